"""Hydra callback that summarises a cross-validation multirun (``cv_summary.json``)."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

log = logging.getLogger(__name__)


def summarize_runs(sweep_dir: Path, metric: str = "val_top1") -> dict[str, Any]:
    """Mean and (population) std of ``metric`` over every job's metrics.json under sweep_dir."""
    jobs = []
    for path in sorted(Path(sweep_dir).glob("*/metrics.json")):
        data = json.loads(path.read_text())
        if metric in data:
            jobs.append({"job": path.parent.name, "fold": data.get("fold"), metric: data[metric]})
    values = [j[metric] for j in jobs]
    summary: dict[str, Any] = {"metric": metric, "num_jobs": len(values), "jobs": jobs}
    if values:
        mean = sum(values) / len(values)
        summary["mean"] = mean
        summary["std"] = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    return summary


class CVSummaryCallback(Callback):
    """On multirun end: write ``<sweep dir>/cv_summary.json`` and print mean/std of val top-1."""

    def __init__(self, metric: str = "val_top1") -> None:
        self.metric = metric

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        summary = summarize_runs(sweep_dir, self.metric)
        (sweep_dir / "cv_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        if summary["num_jobs"]:
            line = (
                f"cv summary: {self.metric} = {summary['mean']:.4f} +- {summary['std']:.4f} "
                f"over {summary['num_jobs']} jobs -> {sweep_dir / 'cv_summary.json'}"
            )
        else:
            line = f"cv summary: no job wrote {self.metric} (see {sweep_dir})"
        log.info(line)
        print(line)
