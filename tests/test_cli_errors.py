"""Every islr command ends a known error with one line on stderr and exit status 1.

Each case runs the installed console script on a realistic bad input and checks: exit status 1,
exactly one non-empty line on stderr (TensorFlow's start-up notices included: there must be
none), the line names the file or key, and no traceback. The scripts run concurrently (most of
their time is importing TensorFlow), so the module takes about the time of the slowest few.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from islr.cli._errors import run_hydra_task
from islr.data import LandmarkCache

BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Case:
    """One console-script run: ``args`` are filled in from the prepared inputs ``paths``."""

    script: str
    args: Callable[[dict[str, Path]], list[str]]
    names: str  # the file or key the line must name
    env: dict[str, str] = field(default_factory=dict)


GARBAGE = "garbage.keras"  # garbage bytes: not a .keras network, not a folder

# Console-script runs. The Hydra commands import TensorFlow (seconds each on a small machine), so
# each runs once here; their other bad inputs go through the same entry code in process
# (HYDRA_TASK_CASES below).
CASES: dict[str, Case] = {
    "eval-data-root-without-train-csv": Case(
        "islr-eval",
        lambda p: [f"ckpt_path={p['damaged']}", f"data.root={p['empty']}"],
        "train.csv",
    ),
    "export-not-a-keras-file": Case(
        "islr-export",
        lambda p: [f"sources=[{p['garbage']}]", f"out_dir={p['tmp']}/out"],
        GARBAGE,
    ),
    "train-data-root-without-train-csv": Case(
        "islr-train", lambda p: [f"data.root={p['empty']}"], "train.csv"
    ),
    "synth-unknown-preset": Case(
        "islr-synth", lambda p: ["--out", f"{p['tmp']}/s", "--preset", "huge"], "--preset"
    ),
    "synth-out-is-a-file": Case(
        "islr-synth", lambda p: ["--out", str(p["garbage"]), "--preset", "tiny"], GARBAGE
    ),
    "preview-missing-file": Case(
        "islr-augment-preview",
        lambda p: [f"{p['tmp']}/no_such.parquet", "--out", f"{p['tmp']}/png"],
        "no_such.parquet",
    ),
    "preview-corrupt-parquet": Case(
        "islr-augment-preview",
        lambda p: [str(p["corrupt_parquet"]), "--out", f"{p['tmp']}/png"],
        "corrupt.parquet",
    ),
    "preview-out-is-a-file": Case(
        "islr-augment-preview",
        lambda p: [str(p["parquet"]), "--out", str(p["garbage"]), "-q"],
        GARBAGE,
    ),
    "shards-missing-out": Case("islr-extract-shards", lambda p: [f"inputs=[{p['videos']}]"], "out"),
    "shards-unknown-sign-map": Case(
        "islr-extract-shards",
        lambda p: [
            f"inputs=[{p['videos']}]",
            f"out={p['tmp']}/extracted",
            f"sign_map={p['tmp']}/no_such_map.json",
        ],
        "no_such_map.json",
    ),
    "shards-shard-index-out-of-range": Case(
        "islr-extract-shards",
        lambda p: [f"inputs=[{p['videos']}]", f"out={p['tmp']}/extracted", "shard.index=3"],
        "shard 3/1",
    ),
}
# The traceback is still there on request.
VERBOSE_CASES: dict[str, Case] = {
    "synth---verbose": Case(
        "islr-synth", lambda p: ["--out", f"{p['tmp']}/s", "--preset", "huge", "--verbose"], ""
    ),
    "shards-HYDRA_FULL_ERROR": Case(
        "islr-extract-shards",
        lambda p: [f"inputs=[{p['videos']}]", f"out={p['tmp']}/x", "shard.index=3"],
        "",
        env={"HYDRA_FULL_ERROR": "1"},
    ),
}


def _tiny_run(root: Path) -> Path:
    """A training run directory as islr-train leaves it: a small network and its sign map."""
    import keras

    from islr.model import build_sign_model
    from model_settings import model_settings

    keras.utils.set_random_seed(0)
    sizes = model_settings(dim=32, num_stacks=1, conv_blocks_per_stack=1, num_heads=2)
    net = build_sign_model(max_len=16, num_classes=4, **sizes)
    (root / "checkpoints").mkdir(parents=True)
    net.save(root / "checkpoints" / "best.keras")
    signs = {f"sign_{i}": i for i in range(4)}
    (root / "sign_to_prediction_index_map.json").write_text(json.dumps(signs))
    return root


def _inputs(tmp: Path, tiny_root: Path, tiny_cache: LandmarkCache) -> dict[str, Path]:
    """The bad (and the few good) inputs the cases refer to."""
    garbage = tmp / GARBAGE
    garbage.write_bytes(b"\x00 not a zip archive \xff" * 10)
    damaged = tmp / "damaged.keras"  # a zip archive, but no Keras model inside
    with zipfile.ZipFile(damaged, "w") as archive:
        archive.writestr("config.json", "{ not json")
    (tmp / "corrupt.parquet").write_bytes(b"PAR1 truncated")
    (tmp / "empty").mkdir()
    videos = tmp / "videos" / "hello"
    videos.mkdir(parents=True)
    (videos / "clip.mp4").write_bytes(b"")  # found by name; these cases fail before reading it
    (tmp / "three_signs.json").write_text(json.dumps({"a": 0, "b": 1, "c": 2}))
    return {
        "tmp": tmp,
        "garbage": garbage,
        "damaged": damaged,
        "corrupt_parquet": tmp / "corrupt.parquet",
        "empty": tmp / "empty",
        "videos": tmp / "videos",
        "three_signs": tmp / "three_signs.json",
        "tiny_root": tiny_root,
        "tiny_cache": Path(tiny_cache.cache_dir),
        "parquet": next((tiny_root / "train_landmark_files").rglob("*.parquet")),
    }


def _run(case: Case, paths: dict[str, Path]) -> subprocess.CompletedProcess:
    # Export needs TensorFlow whatever backend the tests run under.
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    env.update(PYTHONUNBUFFERED="1", KERAS_BACKEND="tensorflow", **case.env)
    return subprocess.run(
        [str(BIN / case.script), *case.args(paths)],
        cwd=paths["tmp"],  # Hydra's logs/ land here
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


@pytest.fixture(scope="module")
def inputs(tiny_root, tiny_cache, tmp_path_factory) -> dict[str, Path]:
    return _inputs(tmp_path_factory.mktemp("cli_errors"), tiny_root, tiny_cache)


@pytest.fixture(scope="module")
def results(inputs: dict[str, Path]) -> Iterator[dict[str, Future[subprocess.CompletedProcess]]]:
    """Every console-script run, started at once (3 at a time) while the in-process tests run."""
    pool = ThreadPoolExecutor(max_workers=3)
    cases = {**CASES, **VERBOSE_CASES}
    yield {name: pool.submit(_run, case, inputs) for name, case in cases.items()}
    pool.shutdown(wait=True)


@pytest.fixture(scope="module")
def task_inputs(inputs: dict[str, Path], results) -> dict[str, Path]:
    """``inputs`` and a training run; requests ``results`` so that the scripts run meanwhile."""
    return {**inputs, "run": _tiny_run(inputs["tmp"] / "run")}


@dataclass(frozen=True)
class TaskCase:
    """A Hydra command's task run in process on ``conf/<config>.yaml`` with ``overrides``."""

    prog: str
    config: str
    overrides: Callable[[dict[str, Path]], list[str]]
    names: str


HYDRA_TASK_CASES: dict[str, TaskCase] = {
    "eval-missing-ckpt_path": TaskCase("islr-eval", "eval", lambda p: [], "ckpt_path"),
    "eval-not-a-keras-file": TaskCase(
        "islr-eval", "eval", lambda p: [f"ckpt_path={p['garbage']}"], GARBAGE
    ),
    "eval-nonexistent-ckpt_path": TaskCase(
        "islr-eval", "eval", lambda p: [f"ckpt_path={p['tmp']}/no_such.keras"], "no_such.keras"
    ),
    "eval-damaged-keras-zip": TaskCase(
        "islr-eval",
        "eval",
        lambda p: [
            f"ckpt_path={p['damaged']}",
            f"data.root={p['tiny_root']}",
            f"data.cache_dir={p['tiny_cache']}",
        ],
        "damaged.keras",
    ),
    "export-missing-sources": TaskCase("islr-export", "export", lambda p: [], "sources"),
    "export-nonexistent-source": TaskCase(
        "islr-export", "export", lambda p: [f"sources=[{p['tmp']}/no_such_run]"], "no_such_run"
    ),
    "export-unknown-sign-map": TaskCase(
        "islr-export",
        "export",
        lambda p: [
            f"sources=[{p['run']}]",
            f"out_dir={p['tmp']}/out",
            f"sign_map={p['tmp']}/no_such_map.json",
        ],
        "no_such_map.json",
    ),
    "export-sign-map-that-does-not-fit": TaskCase(
        "islr-export",
        "export",
        lambda p: [
            f"sources=[{p['run']}]",
            f"out_dir={p['tmp']}/out",
            f"sign_map={p['three_signs']}",
        ],
        "three_signs.json",
    ),
}


@pytest.mark.parametrize("name", list(HYDRA_TASK_CASES))
def test_hydra_task_known_error_is_one_line(
    name: str, task_inputs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from hydra import compose, initialize_config_module

    from islr.cli.evaluate import evaluate_command
    from islr.cli.export import export_command

    case = HYDRA_TASK_CASES[name]
    command = {"islr-eval": evaluate_command, "islr-export": export_command}[case.prog]
    with initialize_config_module(config_module="islr.conf", version_base="1.3"):
        cfg = compose(case.config, overrides=case.overrides(task_inputs))
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    with pytest.raises(SystemExit) as ended:
        run_hydra_task(case.prog, command, cfg)
    line = ended.value.code  # a string: Python prints it to stderr and exits with status 1
    assert isinstance(line, str) and "\n" not in line, line
    assert line.startswith(f"{case.prog}: ") and case.names in line, line


def test_a_failed_parity_check_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """A ParityError (the export gate) in a Hydra command: one line; with HYDRA_FULL_ERROR=1
    the error itself; an unexpected error always propagates (a bug keeps its traceback)."""
    from islr.export.parity import ParityError, compare_scores

    def gate(cfg) -> None:
        scores = np.array([0.0, 1.0, 3.0])
        compare_scores("fp16", "typical", scores, scores + np.array([0, 0, 0.2]), 0.1)

    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    with pytest.raises(SystemExit) as ended:
        run_hydra_task("islr-export", gate, OmegaConf.create({}))
    line = ended.value.code
    assert isinstance(line, str) and "\n" not in line
    assert line.startswith("islr-export: export failed: parity check failed for fp16 on input")
    assert "'typical'" in line

    monkeypatch.setenv("HYDRA_FULL_ERROR", "1")
    with pytest.raises(ParityError):
        run_hydra_task("islr-export", gate, OmegaConf.create({}))

    monkeypatch.delenv("HYDRA_FULL_ERROR")

    def bug(cfg) -> None:
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        run_hydra_task("islr-export", bug, OmegaConf.create({}))


@pytest.mark.parametrize("name", list(CASES))
def test_known_error_is_one_line_and_exit_1(name: str, results) -> None:
    done = results[name].result()
    case = CASES[name]
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 1, done.stderr[-3000:]
    assert len(lines) == 1, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    assert lines[0].startswith(f"{case.script}: "), lines[0]
    assert case.names in lines[0], lines[0]


@pytest.mark.parametrize("name", list(VERBOSE_CASES))
def test_verbose_or_hydra_full_error_shows_the_traceback(name: str, results) -> None:
    done = results[name].result()
    assert done.returncode == 1, done.stderr[-3000:]
    assert "Traceback" in done.stderr
