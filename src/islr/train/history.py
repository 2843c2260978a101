"""A run's record of its epochs: each row (metrics, learning rate, seconds), ``metrics.csv``,
and the log line per epoch."""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import time
from pathlib import Path
from typing import Any

import keras

from islr.atomic_io import write_text_atomic

__all__ = ["EpochLogger", "EpochRecorder", "current_learning_rate", "write_history_csv"]

log = logging.getLogger(__name__)


def current_learning_rate(model: keras.Model | None) -> float:
    """The optimizer's learning rate at its current step (nan if unavailable)."""
    opt = getattr(model, "optimizer", None)
    if opt is None:
        return float("nan")
    with contextlib.suppress(Exception):
        return float(keras.ops.convert_to_numpy(opt.learning_rate))
    return float("nan")


def write_history_csv(path: Path, history: list[dict[str, Any]]) -> None:
    """Rewrite ``metrics.csv`` from the whole history (so a resumed run has no stale rows)."""
    keys: list[str] = []
    for row in history:
        keys += [k for k in row if k not in keys]
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=keys)
    writer.writeheader()
    writer.writerows(history)
    write_text_atomic(path, text.getvalue())


class EpochRecorder(keras.callbacks.Callback):
    """Times each epoch and hands its record to :meth:`record`: the epoch's ``logs`` as
    floats, the learning rate and the epoch's seconds."""

    def __init__(self) -> None:
        super().__init__()
        self._t0 = time.perf_counter()

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._t0 = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        metrics = {k: float(v) for k, v in (logs or {}).items()}
        lr = current_learning_rate(self.model)
        self.record(epoch + 1, metrics, lr, time.perf_counter() - self._t0)

    def record(self, epoch: int, metrics: dict[str, float], lr: float, seconds: float) -> None:
        """Take epoch ``epoch``'s (from 1) record."""
        raise NotImplementedError


class EpochLogger(EpochRecorder):
    """One ``logging`` line per epoch (the run log and non-interactive consoles)."""

    def __init__(self, epochs: int) -> None:
        super().__init__()
        self.epochs = epochs

    def record(self, epoch: int, metrics: dict[str, float], lr: float, seconds: float) -> None:
        """Log the epoch's line: its metrics, learning rate and seconds."""
        parts = [f"{k}={v:.4f}" for k, v in metrics.items()]
        log.info(
            "epoch %d/%d  %s  lr=%.3g  %.1fs", epoch, self.epochs, "  ".join(parts), lr, seconds
        )
