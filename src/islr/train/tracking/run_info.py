"""The :class:`~islr.train.tracking.base.RunInfo` of a run: its flattened config, and its sweep,
job number and overrides when Hydra runs it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from islr.config.flatten import flatten_config
from islr.hydra_runtime import multirun_job
from islr.train.tracking.base import RunInfo

__all__ = ["run_info", "swept_overrides", "tracked_params"]


def tracked_params(cfg: DictConfig) -> dict[str, Any]:
    """The resolved config as trackers record it: ``{"dotted.key": value}`` without ``hydra``,
    lists as their JSON text (a tracker's param is a string), empty groups left out."""
    return {
        key: json.dumps(value, default=str) if isinstance(value, list) else value
        for key, value in flatten_config(cfg, skip=("hydra",)).items()
        if not isinstance(value, dict)
    }


def swept_overrides(sweep_dir: Path, job_overrides: list[str]) -> list[str]:
    """The overrides of a sweep job that differ between the sweep's jobs.

    A job's overrides repeat the whole command line; what varies is each override the command
    line gave as a sweep (``seed=1,2``), and any the sweeper added itself (Optuna's
    parameters). Read from ``<sweep dir>/multirun.yaml``; all of them when it is unreadable.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        original = OmegaConf.load(sweep_dir / "multirun.yaml").hydra.overrides.task
        parser = OverridesParser.create()
        fixed = {
            o.get_key_element()
            for o in parser.parse_overrides([str(o) for o in original])
            if not o.is_sweep_override()
        }
        parsed = parser.parse_overrides(job_overrides)
    except Exception:  # no multirun.yaml (a custom launcher), or an unparsable one
        return job_overrides
    return [
        text
        for text, o in zip(job_overrides, parsed, strict=True)
        if o.get_key_element() not in fixed
    ]


def run_info(cfg: DictConfig, run_dir: Path, *, resumed: bool = False) -> RunInfo:
    """The :class:`RunInfo` of this run (sweep and overrides from Hydra, when it runs us)."""
    from hydra.core.hydra_config import HydraConfig

    sweep: str | None = None
    job: int | None = None
    overrides: list[str] = []
    if HydraConfig.initialized():
        overrides = [str(o) for o in HydraConfig.get().overrides.task]
        multirun = multirun_job()
        if multirun is not None:
            sweep, job = str(multirun.sweep_dir), multirun.num
            overrides = swept_overrides(multirun.sweep_dir, overrides)
    name = " ".join(o for o in overrides if not o.startswith("hydra.")) or Path(run_dir).name
    if job is not None:
        name = f"{job}: {name}"
    return RunInfo(
        run_dir=Path(run_dir),
        params=tracked_params(cfg),
        name=name,
        task_name=str(cfg.get("task_name", "train")),
        sweep=sweep,
        job=job,
        overrides=overrides,
        resumed=resumed,
    )
