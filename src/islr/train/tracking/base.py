"""What every tracker shares: the run it records (:class:`RunInfo`) and the hooks the training
run calls (:class:`RunLogger`)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["INSTALL_HINT", "RunInfo", "RunLogger", "final_metrics", "is_number"]

INSTALL_HINT = 'pip install "islr[tracking]"'


@dataclass
class RunInfo:
    """What a logger needs to know about the run it records.

    Attributes:
        run_dir: the run directory.
        params: the resolved config, flattened to ``{"dotted.key": value}`` (lists as their
            JSON text).
        name: a readable run name: the run's command-line overrides, else the directory name.
        task_name: ``cfg.task_name`` (e.g. ``demo``).
        sweep: the multirun sweep this run belongs to (its sweep directory), None for a
            single run.
        job: the job number within the sweep (None for a single run).
        overrides: the run's command-line overrides (``key=value``).
        resumed: the run continues a checkpoint (``resume=true``).
    """

    run_dir: Path
    params: dict[str, Any] = field(default_factory=dict)
    name: str = ""
    task_name: str = "train"
    sweep: str | None = None
    job: int | None = None
    overrides: list[str] = field(default_factory=list)
    resumed: bool = False

    @property
    def hparams(self) -> dict[str, Any]:
        """The overridden settings, as ``{key: value}`` (``+``/``~`` prefixes dropped)."""
        out: dict[str, Any] = {}
        for item in self.overrides:
            key, sep, raw = item.partition("=")
            key = key.lstrip("+~")
            if sep and not key.startswith("hydra."):
                out[key] = self.params.get(key, raw)  # a group choice (model=tiny): its name
        return out


class RunLogger:
    """A tracker the training run reports to. Subclasses override the hooks they need."""

    def start(self, run: RunInfo) -> None:
        """Called once the run directory exists, before the first epoch."""

    def log_epoch(self, epoch: int, metrics: Mapping[str, float]) -> None:
        """The metrics of a finished epoch (1-based), as in a row of ``metrics.csv``."""

    def finish(self, result: Mapping[str, Any], status: str = "FINISHED") -> None:
        """The run ended: ``result`` is ``metrics.json``'s content; status is ``FINISHED`` or
        ``FAILED``. The run directory's reports exist when it finished."""

    def log_export(self, export_dir: Path) -> None:
        """The run's exported model was written to ``export_dir``."""

    def attach(self, run_dir: Path) -> None:
        """Reconnect to what :meth:`start` created for the run in ``run_dir`` (a new process
        logging after the run, e.g. the export)."""


def is_number(value: Any) -> bool:
    """A finite int or float (not a bool): what trackers can plot."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def final_metrics(result: Mapping[str, Any]) -> dict[str, float]:
    """The end-of-run numbers of ``metrics.json``: the best checkpoint's validation metrics
    (``val_top1``, ``val_top5``, ``val_loss``) and ``epoch`` (the best epoch)."""
    out = {k: float(v) for k, v in result.items() if k.startswith("val_") and is_number(v)}
    if is_number(result.get("best_epoch")):
        out["epoch"] = float(result["best_epoch"])
    return out
