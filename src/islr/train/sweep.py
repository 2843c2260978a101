"""Hydra callback that summarises a multirun: cross-validation folds and hyperparameter sweeps."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from islr.run_layout import CV_SUMMARY

log = logging.getLogger(__name__)

FOLD_KEY = "data.fold"


def _job_settings(job_dir: Path) -> dict[str, str]:
    """The job's command-line overrides (``.hydra/overrides.yaml``) except the fold."""
    path = job_dir / ".hydra" / "overrides.yaml"
    if not path.is_file():
        return {}
    settings = {}
    for item in OmegaConf.load(path) or []:
        key, _, value = str(item).partition("=")
        if key.lstrip("+~") != FOLD_KEY:
            settings[key] = value
    return settings


def _mean_std(values: list[float]) -> tuple[float, float]:
    mean = sum(values) / len(values)
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))


def summarize_runs(sweep_dir: Path, metric: str = "val_top1") -> dict[str, Any]:
    """Summary of ``metric`` over every job's ``metrics.json`` under ``sweep_dir``.

    Jobs with the same settings apart from ``data.fold`` form a group (a cross-validation of one
    configuration); each group gets the mean and (population) std over its folds. With a single
    group (a plain fold sweep) ``mean``/``std`` are also at the top level. ``best`` is the group
    with the highest mean (a hyperparameter sweep, e.g. ``hparams_search=optuna``).
    """
    jobs = []
    for path in sorted(Path(sweep_dir).glob("*/metrics.json")):
        data = json.loads(path.read_text())
        if metric in data:
            jobs.append(
                {
                    "job": path.parent.name,
                    "fold": data.get("fold"),
                    metric: data[metric],
                    "settings": _job_settings(path.parent),
                }
            )
    groups: dict[str, dict[str, Any]] = {}
    for job in jobs:
        key = json.dumps(job["settings"], sort_keys=True)
        group = groups.setdefault(key, {"settings": job["settings"], "jobs": [], "values": []})
        group["jobs"].append(job["job"])
        group["values"].append(job[metric])
    summary: dict[str, Any] = {"metric": metric, "num_jobs": len(jobs), "jobs": jobs}
    summary["groups"] = []
    for group in groups.values():
        mean, std = _mean_std(group.pop("values"))
        summary["groups"].append({**group, "mean": mean, "std": std})
    summary["groups"].sort(key=lambda g: -g["mean"])
    if summary["groups"]:
        summary["best"] = summary["groups"][0]
    if len(summary["groups"]) == 1:
        summary["mean"], summary["std"] = summary["best"]["mean"], summary["best"]["std"]
    return summary


def summary_line(summary: dict[str, Any], where: Path) -> str:
    """One printable line for a :func:`summarize_runs` summary written to ``where``."""
    metric, groups = summary["metric"], summary["groups"]
    if not groups:
        return f"sweep summary: no job wrote {metric} (see {where.parent})"
    if len(groups) == 1:
        return (
            f"cv summary: {metric} = {summary['mean']:.4f} +- {summary['std']:.4f} "
            f"over {summary['num_jobs']} jobs -> {where}"
        )
    best = summary["best"]
    changed = {
        k: v for k, v in best["settings"].items() if any(g["settings"].get(k) != v for g in groups)
    }
    settings = " ".join(f"{k}={v}" for k, v in changed.items()) or "(same overrides)"
    folds = f" over {len(best['jobs'])} folds" if len(best["jobs"]) > 1 else ""
    return (
        f"sweep summary: {len(groups)} settings, best {metric} = {best['mean']:.4f}{folds} "
        f"(jobs {', '.join(best['jobs'])}: {settings}) -> {where}"
    )


class CVSummaryCallback(Callback):
    """On multirun end: write ``<sweep dir>/cv_summary.json`` and print its headline.

    A fold sweep prints mean +- std of the metric; a sweep over other settings prints the best
    setting (mean over its folds, when it has several).
    """

    def __init__(self, metric: str = "val_top1") -> None:
        self.metric = metric

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        summary = summarize_runs(sweep_dir, self.metric)
        where = sweep_dir / CV_SUMMARY
        where.write_text(json.dumps(summary, indent=2) + "\n")
        line = summary_line(summary, where)
        log.info(line)
        print(line)
