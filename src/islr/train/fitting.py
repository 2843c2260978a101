"""The fit: the run's callbacks (from ``cfg.callbacks`` and the trainer's own) and
``model.fit`` from the resumed epoch, a divergence recorded before it is raised."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
from omegaconf import DictConfig

from islr.errors import ConfigError, DivergenceError
from islr.train.checkpoint import CheckpointState
from islr.train.datamodule import TrainingData
from islr.train.divergence import DivergenceGuard, divergence_hints, record_divergence
from islr.train.history import EpochLogger
from islr.train.resume import ResumePoint
from islr.train.tracking.run_loggers import RunLoggers
from islr.train.trainer_setup import RunSession
from islr.train.training_model import Trainer

__all__ = ["FitCallbacks", "build_callbacks", "fit", "training_callbacks"]


@dataclass
class FitCallbacks:
    """The callbacks of the fit, in order, and the checkpointer among them (the run reads its
    history and best checkpoint afterwards)."""

    checkpointer: CheckpointState
    callbacks: list[keras.callbacks.Callback]


def build_callbacks(
    cfg: DictConfig,
    run_dir: Path,
    network: keras.Model,
    *,
    validate: bool,
    settings: dict[str, Any],
    state: dict[str, Any] | None,
) -> tuple[CheckpointState, list[keras.callbacks.Callback]]:
    """The callbacks ``cfg.callbacks`` describes, each built from its ``_target_``.

    Returns the checkpointer (``callbacks.checkpoint``, completed with this run's directory,
    network and resume state) and the others: ``callbacks.early_stopping`` and a user's own
    under ``callbacks.extra``.

    Raises:
        ConfigError: a node builds something that is not a Keras callback (or a checkpoint
            callback that is not a :class:`CheckpointState`).
    """
    from hydra.utils import instantiate

    node = cfg.callbacks
    checkpointer = instantiate(node.checkpoint)(
        run_dir, network, validate=validate, seed=int(cfg.seed), settings=settings, state=state
    )
    if not isinstance(checkpointer, CheckpointState):
        raise ConfigError(
            f"callbacks.checkpoint: {node.checkpoint._target_} built a "
            f"{type(checkpointer).__name__}, not a islr.train.checkpoint.CheckpointState "
            "(subclass)"
        )
    built = {"callbacks.early_stopping": instantiate(node.early_stopping)}
    built.update({f"callbacks.extra.{name}": instantiate(c) for name, c in node.extra.items()})
    for key, callback in built.items():
        if not isinstance(callback, keras.callbacks.Callback):
            raise ConfigError(f"{key}: built a {type(callback).__name__}, not a Keras callback")
    return checkpointer, list(built.values())


def training_callbacks(
    cfg: DictConfig,
    session: RunSession,
    trainer: Trainer,
    data: TrainingData,
    resume: ResumePoint,
    loggers: RunLoggers,
) -> FitCallbacks:
    """Every callback of the fit, in the order they must run."""
    checkpointer, configured = build_callbacks(
        cfg,
        session.checkpoint_root,
        trainer.network,
        validate=data.validate,
        settings=resume.settings,
        state=resume.state,
    )
    callbacks: list[keras.callbacks.Callback] = [
        data.train.epoch_callback(),
        DivergenceGuard(divergence_hints(cfg)),  # before checkpointer: no non-finite checkpoint
        checkpointer,
        EpochLogger(int(cfg.trainer.epochs)),
        loggers.callback(),  # after the checkpointer: what it reports is saved
        *configured,
    ]
    if trainer.awp_lambda > 0:
        from islr.train.awp import AWPSchedule

        callbacks.insert(0, AWPSchedule(int(cfg.trainer.awp.start_epoch)))
    return FitCallbacks(checkpointer, callbacks)


def _progress_verbose(setting: Any) -> int:
    if setting is None:
        return 1 if sys.stderr.isatty() else 0
    return 1 if setting else 0


def fit(
    cfg: DictConfig,
    trainer: Trainer,
    data: TrainingData,
    callbacks: FitCallbacks,
    resume: ResumePoint,
    session: RunSession,
    loggers: RunLoggers,
) -> float:
    """Train from the resumed epoch to ``trainer.epochs``; returns the seconds it took.

    On failure the loggers finish the run as ``FAILED``; a divergence is first recorded in
    ``metrics.json`` (:func:`~islr.train.divergence.record_divergence`).

    Raises:
        DivergenceError: the loss or the weights became NaN/inf.
    """
    tr = cfg.trainer
    epochs = int(tr.epochs)
    t_fit = time.perf_counter()
    if resume.initial_epoch >= epochs:
        return 0.0
    try:
        trainer.model.fit(
            data.train,
            validation_data=data.val,
            epochs=epochs,
            initial_epoch=resume.initial_epoch,
            validation_freq=int(tr.check_val_every_n_epoch),
            callbacks=callbacks.callbacks,
            shuffle=False,  # the dataset shuffles itself from (seed, epoch): resumable
            verbose=_progress_verbose(tr.progress_bar),
        )
    except DivergenceError as err:
        keras.config.set_dtype_policy("float32")
        error = record_divergence(
            err,
            session.run_dir,
            data.split.fold,
            callbacks.checkpointer,
            session.hosts.writes_files,
        )
        loggers.finish({"run_dir": str(session.run_dir)}, status="FAILED")
        raise error from None
    except BaseException:
        loggers.finish({"run_dir": str(session.run_dir)}, status="FAILED")
        raise
    return time.perf_counter() - t_fit
