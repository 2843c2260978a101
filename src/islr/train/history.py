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

__all__ = ["EpochLogger", "current_learning_rate", "write_history_csv"]

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


class EpochLogger(keras.callbacks.Callback):
    """One ``logging`` line per epoch (the run log and non-interactive consoles)."""

    def __init__(self, epochs: int) -> None:
        super().__init__()
        self.epochs = epochs
        self._t0 = time.perf_counter()

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._t0 = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        parts = [f"{k}={float(v):.4f}" for k, v in (logs or {}).items()]
        lr = current_learning_rate(self.model)
        log.info(
            "epoch %d/%d  %s  lr=%.3g  %.1fs",
            epoch + 1,
            self.epochs,
            "  ".join(parts),
            lr,
            time.perf_counter() - self._t0,
        )
