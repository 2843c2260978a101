"""Whether Hydra runs this process as a job of a ``--multirun`` sweep, and which one.

Below every stage (it imports nothing from islr): the trainer (a GPU per job), the trackers
(a run's sweep and job number) and the ``islr-train`` command (a diverged job must not end
the sweep) all ask here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["MultirunJob", "multirun_job"]


@dataclass(frozen=True)
class MultirunJob:
    """A job of a Hydra multirun: its sweep directory (absolute) and its number in the sweep."""

    sweep_dir: Path
    num: int


def multirun_job() -> MultirunJob | None:
    """This process's multirun job, or None for a single run or a call from Python."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized():
        return None
    hydra_cfg = HydraConfig.get()
    if hydra_cfg.mode != RunMode.MULTIRUN:
        return None
    return MultirunJob(Path(str(hydra_cfg.sweep.dir)).resolve(), int(hydra_cfg.job.num))
