"""The export settings: the ``export`` config group (``conf/export/*.yaml``) as a dataclass."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from islr.export import tflite
from islr.export.parity import DEFAULT_TOLERANCES

__all__ = ["ExportSettings"]


@dataclass
class ExportSettings:
    """What to export; mirrors ``conf/export/default.yaml``."""

    enabled: bool = True
    variants: tuple[str, ...] = tflite.VARIANTS
    submission_variant: str = "fp16"
    output: str = "logits"
    keep_saved_model: bool = True
    tolerances: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_TOLERANCES))
    latency_frames: int = 64
    latency_runs: int = 20
    out_dir: str | None = None

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any] | None) -> ExportSettings:
        """Settings from an export config node (an ``export:`` group or its parent)."""
        if cfg is None:
            return cls()
        if hasattr(cfg, "keys") and "export" in cfg and "variants" not in cfg:
            cfg = cfg["export"]
        data = _to_plain(cfg)
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"export config: unknown key(s) {unknown}; known: {sorted(known)}")
        if "variants" in data:
            data["variants"] = tuple(data["variants"])
        if "tolerances" in data:
            given = {k: float(v) for k, v in data["tolerances"].items()}
            data["tolerances"] = {**DEFAULT_TOLERANCES, **given}
        return cls(**data)


def _to_plain(cfg: Any) -> dict[str, Any]:
    from omegaconf import DictConfig, ListConfig, OmegaConf

    if not isinstance(cfg, DictConfig):
        return dict(cfg)
    out: dict[str, Any] = {}
    for key in cfg:
        try:
            value = cfg[key]
            if isinstance(value, DictConfig | ListConfig):
                value = OmegaConf.to_container(value, resolve=True)
        except Exception:
            # out_dir may interpolate ${paths.output_dir}, which only resolves inside a run.
            if key != "out_dir":
                raise
            value = None
        out[str(key)] = value
    return out
