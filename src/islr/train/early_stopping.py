"""Early stopping on a validation metric that stopped improving (``callbacks.early_stopping``)."""

from __future__ import annotations

import logging
import math

import keras

__all__ = ["EarlyStopOnPlateau"]

log = logging.getLogger(__name__)


class EarlyStopOnPlateau(keras.callbacks.Callback):
    """Stops training after ``patience`` validated epochs without a new best ``monitor``.

    ``patience=None`` never stops (``callbacks.early_stopping.patience: null``, the default);
    nor does a run without validation, whose epochs produce no ``monitor``.
    """

    def __init__(self, monitor: str, patience: int | None) -> None:
        super().__init__()
        if patience is not None and int(patience) < 1:
            raise ValueError(f"patience must be >= 1 or None, got {patience}")
        self.monitor = monitor
        self.patience = None if patience is None else int(patience)
        self.best = -math.inf
        self.wait = 0

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        value = (logs or {}).get(self.monitor)
        if value is None or self.patience is None:
            return
        if float(value) > self.best:
            self.best, self.wait = float(value), 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            log.info("early stopping: %s did not improve for %d epochs", self.monitor, self.wait)
            self.model.stop_training = True
