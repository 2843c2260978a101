"""Divergence: stop a run whose loss or weights became NaN/inf, and record what is left of it."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import keras
from omegaconf import DictConfig

from islr.atomic_io import write_json_atomic
from islr.errors import DivergenceError
from islr.model.finite import describe_paths, nonfinite_variables
from islr.run_layout import RunLayout
from islr.train.checkpoint import CheckpointState

__all__ = ["DivergenceGuard", "divergence_hints", "record_divergence"]

log = logging.getLogger(__name__)


class DivergenceGuard(keras.callbacks.Callback):
    """Stops training, by raising :class:`~islr.errors.DivergenceError`, once it diverges.

    Checked after every training step: the running loss (a NaN or inf step makes it non-finite
    from that step on). Checked at the end of every epoch, before any checkpoint of it is
    written (so list this callback before :class:`~islr.train.checkpoint.CheckpointState`): the
    validation loss and every weight of the model (trainable or not).

    A step that a mixed-precision ``LossScaleOptimizer`` skips because its scaled gradients
    overflowed is not divergence: that optimizer leaves the weights untouched and the loss it
    reports is the unscaled, finite one, so neither check fires.

    Args:
        hints: the likely causes, in words, appended to the message (the run knows its
            learning rate and precision).
    """

    def __init__(self, hints: str = "") -> None:
        super().__init__()
        self.hints = hints
        self.epoch = 0
        self.steps_per_epoch: int | None = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.steps_per_epoch = (self.params or {}).get("steps")

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch = epoch

    def _fail(self, what: str, step: int | None) -> None:
        where = f"epoch {self.epoch + 1}"
        if step is not None:
            where += f", step {step}"
            if self.steps_per_epoch:
                where += f" (global step {self.epoch * self.steps_per_epoch + step})"
        message = f"training diverged at {where}: {what}"
        if self.hints:
            message += f". {self.hints}"
        raise DivergenceError(message, epoch=self.epoch + 1, step=step)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self._fail(f"the training loss is {float(loss)}", batch + 1)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        bad = nonfinite_variables(self.model)
        if bad:
            self._fail(f"{len(bad)} weight tensor(s) hold NaN/inf ({describe_paths(bad)})", None)
        for key in ("loss", "val_loss"):
            if key in logs and not math.isfinite(float(logs[key])):
                self._fail(
                    f"{key} is {float(logs[key])} at the end of the epoch (the weights are "
                    "finite, the network's outputs are not)",
                    None,
                )


def divergence_hints(cfg: DictConfig) -> str:
    """The likely causes of a diverged run, with this run's own settings."""
    lr = cfg.optim.get("learning_rate")
    precision = str(cfg.trainer.precision)
    half = "" if precision == "float32" else "; float32 is the most robust"
    return (
        f"Likely causes: a learning rate too high (optim.learning_rate={lr}: try 10x lower), "
        f"numeric precision (trainer.precision={precision}{half}), or bad input data "
        "(NaN/inf values reaching the network)"
    )


def record_divergence(
    err: DivergenceError,
    run_dir: Path,
    fold: int | None,
    checkpointer: CheckpointState,
    write: bool = True,
) -> DivergenceError:
    """Write ``metrics.json`` with ``status: diverged`` (no val metrics to rank; not when
    ``write`` is false: multi-host processes other than 0) and return the error with what is
    left of the run appended."""
    if checkpointer.save_best and checkpointer.best_path.exists():
        left = (
            f"{checkpointer.best_path} is the last finite network "
            f"(epoch {checkpointer.best_epoch}); nothing was exported"
        )
    else:
        left = "no checkpoint exists (it diverged within the first epoch); nothing was exported"
    message = f"{err} -- {left}"
    log.error("%s", message)
    if write:
        write_json_atomic(
            RunLayout(run_dir).metrics_json,
            {
                "run_dir": str(run_dir),
                "status": "diverged",
                "error": message,
                "diverged_at": {"epoch": err.epoch, "step": err.step},
                "fold": fold,
                "epochs": len(checkpointer.history),
                "best_epoch": checkpointer.best_epoch,
                "history": checkpointer.history,
            },
        )
    return DivergenceError(message, epoch=err.epoch, step=err.step)
