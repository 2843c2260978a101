"""Crash-safe checkpoints written after every epoch, with the training state a resume reads.

The state (epoch, best score, history, seed, settings) travels inside ``last.weights.h5``
itself, so weights and state can never disagree: a kill between writing two files would
otherwise leave them one epoch apart.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import keras

from islr.atomic_io import atomic_path, json_default, write_json_atomic
from islr.run_layout import RunLayout
from islr.train.history import current_learning_rate, write_history_csv
from islr.train.rng_state import save_rng_states

__all__ = ["STATE_ATTR", "CheckpointState", "read_training_state"]

STATE_ATTR = "islr_state"


def read_training_state(weights_path: Path) -> dict[str, Any] | None:
    """The training state stored inside ``last.weights.h5`` (None if absent/unreadable)."""
    import h5py  # a Keras dependency; only needed here

    try:
        with h5py.File(weights_path, "r") as f:
            raw = f.attrs.get(STATE_ATTR)
    except OSError:
        return None
    if raw is None:
        return None
    if isinstance(raw, bytes):
        raw = raw.decode()
    return json.loads(raw)


class CheckpointState(keras.callbacks.Callback):
    """Writes the run's checkpoints after every epoch (each file atomically).

    - ``best.keras``: the network only, when ``monitor`` improved (or every epoch without
      validation, where best = last);
    - ``last.keras``: the network only;
    - ``last.weights.h5``: the whole training model (network + optimizer state) with the
      training state (epoch, best score, history, seed, settings) embedded as an HDF5
      attribute and the random-generator states (which Keras leaves out of weight files) in
      group ``islr_rng``;
    - ``state.json``: a readable copy of that state; ``metrics.csv``: the history.

    Args:
        run_dir: the run directory.
        network: the network saved to the ``.keras`` files.
        monitor: metric name (higher is better); ignored when ``validate`` is False.
        validate: whether epochs produce ``monitor``.
        seed: recorded in the state.
        settings: the run's settings (:func:`islr.train.resume.run_settings`), recorded in the
            state so that a resume can check them.
        state: the state restored on resume (continues its history and best score).
    """

    def __init__(
        self,
        run_dir: Path,
        network: keras.Model,
        *,
        monitor: str = "val_top1",
        validate: bool = True,
        seed: int = 0,
        settings: dict[str, Any] | None = None,
        save_best: bool = True,
        save_last: bool = True,
        state: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.layout = RunLayout(run_dir)
        self.ckpt_dir = self.layout.checkpoints
        self.ckpt_dir.mkdir(parents=True, exist_ok=True)
        self.metrics_csv = self.layout.metrics_csv
        self.network = network
        self.monitor = monitor
        self.validate = validate
        self.save_best = save_best
        self.save_last = save_last
        state = dict(state or {})
        self.history: list[dict[str, Any]] = list(state.get("history", []))
        self.best: float | None = state.get("best")
        self.best_epoch: int | None = state.get("best_epoch")
        self.seed = seed
        self.settings = dict(settings or {})
        self.seconds = float(state.get("seconds", 0.0))
        self._t0 = time.perf_counter()

    @property
    def best_path(self) -> Path:
        return self.layout.best

    @property
    def last_path(self) -> Path:
        return self.layout.last

    @property
    def weights_path(self) -> Path:
        return self.layout.last_weights

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._t0 = time.perf_counter()

    def _save_network(self, path: Path) -> None:
        with atomic_path(path, suffix=".keras") as tmp:
            self.network.save(tmp)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = {k: float(v) for k, v in (logs or {}).items()}
        seconds = time.perf_counter() - self._t0
        self.seconds += seconds
        row = {
            "epoch": epoch + 1,
            **logs,
            "lr": current_learning_rate(self.model),
            "seconds": seconds,
        }
        self.history.append(row)
        value = logs.get(self.monitor) if self.validate else None
        improved = not self.validate or (
            value is not None and not math.isnan(value) and (self.best is None or value > self.best)
        )
        if improved:
            self.best = value if self.validate else None
            self.best_epoch = epoch + 1
            if self.save_best:
                self._save_network(self.best_path)
        if self.save_last:
            self._save_network(self.last_path)
        state = {
            "epoch": epoch + 1,
            "best": self.best,
            "best_epoch": self.best_epoch,
            "monitor": self.monitor,
            "seed": self.seed,
            "settings": self.settings,
            "seconds": self.seconds,
            "history": self.history,
        }
        # Weights + embedded state form one file: the commit point of this epoch.
        import h5py

        with atomic_path(self.weights_path, suffix=".weights.h5") as tmp:
            self.model.save_weights(tmp)
            with h5py.File(tmp, "a") as f:
                f.attrs[STATE_ATTR] = json.dumps(state, default=json_default)
                save_rng_states(self.model, f)
        write_json_atomic(self.layout.state, state)
        write_history_csv(self.metrics_csv, self.history)
