"""The export settings: the ``export`` config group (``conf/export/*.yaml``) as a dataclass.

The values live in the YAML files only; :meth:`ExportSettings.shipped` reads
``conf/export/default.yaml`` for a caller without a config.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from islr.export import tflite
from islr.export.web_settings import WebSettings

__all__ = ["ExportSettings"]


@dataclass(frozen=True)
class ExportSettings:
    """What to export and how to check it; one field per key of ``conf/export/default.yaml``.

    Attributes:
        enabled: export at all (``islr-train`` after training, ``islr-export``).
        variants: TFLite variants among :data:`islr.export.tflite.VARIANTS`.
        submission_variant: the variant zipped as ``model.tflite`` in ``submission.zip``.
        output: scores of the exported model, ``"logits"`` or ``"probabilities"``.
        keep_saved_model: keep the SavedModel the TFLite variants are converted from.
        tolerances: the parity gate's max |score diff| per variant (one for each exported).
        latency_frames: frames of the video whose latency ``report.md`` states.
        latency_runs: calls the median latency is taken over (one thread).
        out_dir: destination (``None``: the caller's choice, e.g. ``<run dir>/export``).
        web: the browser app (``<export>/web/``), :class:`~islr.export.web_settings.WebSettings`.
    """

    enabled: bool
    variants: tuple[str, ...]
    submission_variant: str
    output: str
    keep_saved_model: bool
    tolerances: Mapping[str, float]
    latency_frames: int
    latency_runs: int
    out_dir: str | None
    web: WebSettings

    def __post_init__(self) -> None:
        if not isinstance(self.web, WebSettings):
            object.__setattr__(self, "web", WebSettings.from_config(self.web))
        object.__setattr__(self, "variants", tuple(self.variants))
        object.__setattr__(self, "tolerances", {k: float(v) for k, v in self.tolerances.items()})
        if not self.variants:
            raise ValueError("export.variants must not be empty")
        unknown = [v for v in self.variants if v not in tflite.VARIANTS]
        if unknown:
            raise ValueError(
                f"export.variants: unknown variant(s) {unknown}; choose from {tflite.VARIANTS}"
            )
        if self.submission_variant not in self.variants:
            raise ValueError(
                f"export.submission_variant {self.submission_variant!r} is not among the "
                f"exported variants {self.variants}"
            )
        unbounded = [v for v in self.variants if v not in self.tolerances]
        if unbounded:
            raise ValueError(f"export.tolerances: no bound for the variant(s) {unbounded}")

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> ExportSettings:
        """Settings from an export config node (an ``export:`` group or its parent).

        Raises:
            ValueError: a key is unknown or missing, or the values do not fit together.
        """
        if "export" in cfg and "variants" not in cfg:
            cfg = cfg["export"]
        data = _to_plain(cfg)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        missing = sorted(known - set(data))
        if unknown or missing:
            raise ValueError(
                f"export config: unknown key(s) {unknown}, missing key(s) {missing}; "
                f"expected {sorted(known)}"
            )
        return cls(**data)

    @classmethod
    def shipped(cls) -> ExportSettings:
        """The settings of ``conf/export/default.yaml`` (``out_dir`` left to the caller)."""
        from islr.config import group_config

        return cls.from_config(group_config("export", "default"))


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
