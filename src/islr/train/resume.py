"""Resuming a run (``resume=true``): the checkpoint to continue, the settings check, the restore.

The training state lives inside ``last.weights.h5`` (:mod:`islr.train.checkpoint`); a resumed
run continues from its last finished epoch and repeats, bit for bit, what the uninterrupted
run would have done: the same settings (checked here), weights, optimizer state and
random-generator states (restored here), shuffle and augmentation streams (the data loaders
start at the resumed epoch).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
from omegaconf import DictConfig

from islr.config.flatten import flatten_config
from islr.errors import ConfigError, NonFiniteWeightsError
from islr.model.finite import describe_paths, nonfinite_paths
from islr.run_layout import RunLayout
from islr.train.checkpoint import read_training_state
from islr.train.rng_state import restore_rng_states

__all__ = [
    "RESUME_MAY_CHANGE",
    "ResumePoint",
    "check_and_restore_rng",
    "load_checkpoint",
    "read_resume_point",
    "run_settings",
    "settings_changes",
]

log = logging.getLogger(__name__)

# Settings a resumed run may change: where files go, loader speed, logging, and what happens
# after training. Any other difference would make the resumed run a different experiment.
RESUME_MAY_CHANGE = (
    "resume",
    "task_name",
    "paths",
    "hydra",
    "export",
    "logger",
    "trainer.progress_bar",
    "trainer.gpu_per_job",
    "trainer.distribution",
    "trainer.multihost",  # the process group (each process has its own process_id)
    "data.cache_dir",
    "data.workers",
    "data.use_multiprocessing",
    "data.max_queue_size",
    "data.preprocess_workers",
    "data.rebuild_cache",
)


def run_settings(cfg: DictConfig) -> dict[str, Any]:
    """The run's resolved settings as ``{"dotted.key": value}``, without :data:`RESUME_MAY_CHANGE`.

    Saved in the training state, so that ``resume=true`` can refuse a changed configuration.
    """
    return flatten_config(cfg, skip=RESUME_MAY_CHANGE)


def settings_changes(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """``"key: saved -> current"`` for every setting that differs (absent: ``<unset>``).

    Keys under :data:`RESUME_MAY_CHANGE` are ignored on both sides, so that a setting that may
    change never blocks a resume, whichever side records it.
    """
    missing = "<unset>"
    return [
        f"{key}: {saved.get(key, missing)!r} -> {current.get(key, missing)!r}"
        for key in sorted(saved.keys() | current.keys())
        if not any(key == k or key.startswith(k + ".") for k in RESUME_MAY_CHANGE)
        and saved.get(key, missing) != current.get(key, missing)
    ]


@dataclass
class ResumePoint:
    """Where the run starts: afresh (``state`` None) or from the checkpoint's training state.

    Attributes:
        weights_path: the run's ``last.weights.h5``.
        settings: this run's settings (:func:`run_settings`), saved with every checkpoint.
        state: the training state of the checkpoint to continue, None for a fresh start.
    """

    weights_path: Path
    settings: dict[str, Any]
    state: dict[str, Any] | None = None

    @property
    def resumed(self) -> bool:
        return self.state is not None

    @property
    def initial_epoch(self) -> int:
        """The number of epochs already trained."""
        return int(self.state["epoch"]) if self.state else 0


def read_resume_point(cfg: DictConfig, layout: RunLayout) -> ResumePoint:
    """The run's starting point: with ``resume=true``, the checkpoint in ``layout`` if any.

    Raises:
        ConfigError: the checkpoint was trained with another seed or other settings.
    """
    point = ResumePoint(layout.last_weights, run_settings(cfg))
    if not cfg.resume:
        return point
    state = read_training_state(point.weights_path) if point.weights_path.exists() else None
    if state is None:
        log.warning("resume=true but %s holds no checkpoint: starting afresh", layout.checkpoints)
        return point
    seed = int(cfg.seed)
    if int(state["seed"]) != seed:
        raise ConfigError(f"resume: seed={seed} but the run was started with {state['seed']}")
    changes = settings_changes(state.get("settings", {}), point.settings)
    if changes:
        shown = "; ".join(changes[:8]) + ("; ..." if len(changes) > 8 else "")
        raise ConfigError(
            f"resume: {len(changes)} setting(s) differ from the run in {layout.run_dir}: "
            f"{shown}. Resume with the run's own settings, or start a new run directory."
        )
    point.state = state
    epochs = int(cfg.trainer.epochs)
    if point.initial_epoch >= epochs:
        log.info("run already complete (%d/%d epochs)", point.initial_epoch, epochs)
    return point


def load_checkpoint(model: keras.Model, optimizer: Any, point: ResumePoint) -> None:
    """Load the checkpoint's weights and optimizer state into ``model`` (inside the
    distribution's scope, where the variables were created)."""
    optimizer.build(model.trainable_variables)
    model.load_weights(point.weights_path)


def check_and_restore_rng(model: keras.Model, optimizer: Any, point: ResumePoint) -> None:
    """Refuse a checkpoint holding NaN/inf, then restore its random-generator states.

    Called outside the distribution's scope: TensorFlow reads distributed variables' values
    only there.

    Raises:
        NonFiniteWeightsError: a weight or optimizer variable is NaN/inf.
    """
    bad = nonfinite_paths([*model.weights, *optimizer.variables])
    if bad:
        raise NonFiniteWeightsError(
            f"resume: {point.weights_path} holds NaN/inf in {len(bad)} tensor(s) "
            f"({describe_paths(bad)}); a diverged state cannot be continued: start a new run "
            "directory (with a lower learning rate)"
        )
    restore_rng_states(model, point.weights_path)
    log.info("resumed from %s at epoch %d", point.weights_path, point.initial_epoch)
