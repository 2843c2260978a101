"""A composed config as flat ``{"dotted.key": value}`` pairs (resume's settings check, trackers)."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

__all__ = ["flatten_config"]


def _under(key: str, prefixes: tuple[str, ...]) -> bool:
    return any(key == p or key.startswith(p + ".") for p in prefixes)


def flatten_config(cfg: DictConfig, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """``{"dotted.key": value}`` of the resolved ``cfg``, leaving out the keys under ``skip``.

    Lists (and empty mappings) are values, as plain Python containers. Values are resolved one
    by one, and a skipped node is never resolved, so ``skip`` may hold nodes that need Hydra's
    runtime (``hydra``, ``paths``); a value that cannot be resolved here is left out.
    """
    flat: dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, DictConfig) and len(node):
            for key in node:
                name = f"{prefix}.{key}" if prefix else str(key)
                if _under(name, skip):
                    continue
                try:
                    child = node[key]
                except Exception:  # an interpolation that cannot be resolved here
                    continue
                walk(child, name)
        elif isinstance(node, DictConfig | ListConfig):
            try:
                flat[prefix] = OmegaConf.to_container(node, resolve=True)
            except Exception:  # an interpolation that cannot be resolved here
                return
        else:
            flat[prefix] = node

    walk(cfg, "")
    return flat
