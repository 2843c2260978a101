"""The package's import graph: one-way stages and no cycle, imports inside functions included.

Every ``import islr...`` / ``from islr... import`` anywhere in a module (top level, functions,
``TYPE_CHECKING`` blocks) is an edge. Stages, upstream first::

    landmarks, errors, atomic_io, run_layout, replicas
        -> data -> features -> augment -> model -> train -> export -> workflow -> cli

A module may import its own stage or an upstream one, never a downstream one, and the
module-level graph has no cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
STAGES = ("base", "data", "features", "augment", "model", "train", "export", "workflow", "cli")
BASE = {
    "islr",
    "islr.landmarks",
    "islr.errors",
    "islr.atomic_io",
    "islr.run_layout",
    "islr.replicas",
}


def _module_name(path: Path, src: Path) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _stage(module: str) -> str:
    if module in BASE:
        return "base"
    part = module.split(".")[1]
    return part if part in STAGES else "base"


def import_graph(src: Path = SRC) -> dict[str, set[str]]:
    """``module -> islr modules it imports`` (resolved to existing modules)."""
    files = {_module_name(p, src): p for p in (src / "islr").rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        edges = set()
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative import
                    anchor = module.split(".")
                    anchor = anchor if is_package else anchor[:-1]
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                # ``from pkg import submodule`` imports the submodule, ``from pkg import name``
                # the package itself
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in files else base
                    for alias in node.names
                ]
            for target in targets:
                # the longest existing module the target names
                while target and target not in files:
                    target = target.rpartition(".")[0]
                if target.startswith("islr") and target != module:
                    edges.add(target)
        graph[module] = edges
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycle_in_src_islr() -> None:
    cycle = _cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_imports_only_flow_downstream() -> None:
    wrong = [
        f"{module} ({_stage(module)}) imports {dep} ({_stage(dep)})"
        for module, deps in sorted(import_graph().items())
        for dep in sorted(deps)
        if STAGES.index(_stage(dep)) > STAGES.index(_stage(module))
    ]
    assert not wrong, "\n".join(wrong)


def test_the_checker_finds_a_cycle_hidden_in_a_function(tmp_path: Path) -> None:
    pkg = tmp_path / "islr" / "train"
    pkg.mkdir(parents=True)
    (tmp_path / "islr" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "run.py").write_text("from islr.train.evaluate import evaluate\n")
    (pkg / "evaluate.py").write_text("def evaluate():\n    from islr.train import run\n")
    cycle = _cycle(import_graph(tmp_path))
    assert cycle is not None and {"islr.train.run", "islr.train.evaluate"} <= set(cycle)
    (pkg / "export_up.py").write_text("def f():\n    import islr.cli.x\n")
    (tmp_path / "islr" / "cli").mkdir()
    (tmp_path / "islr" / "cli" / "x.py").write_text("")
    assert "islr.cli.x" in import_graph(tmp_path)["islr.train.export_up"]
