"""Training callbacks: crash-safe checkpoints with resumable state, a divergence guard, and
epoch log lines."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import math
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np

from islr.atomic_io import atomic_path, write_text_atomic
from islr.errors import DivergenceError
from islr.run_layout import RunLayout

log = logging.getLogger(__name__)

STATE_ATTR = "islr_state"
RNG_GROUP = "islr_rng"


def write_json_atomic(path: Path, payload: Any) -> None:
    """Write JSON through a temporary file so readers never see a half-written file.

    A failure while writing (a full disk) leaves the previous file as it was.
    """
    write_text_atomic(path, json.dumps(payload, indent=2, default=_json_default) + "\n")


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def read_training_state(weights_path: Path) -> dict[str, Any] | None:
    """The training state stored inside ``last.weights.h5`` (None if absent/unreadable).

    The state travels inside the weights file itself, so weights and state can never disagree
    (a kill between writing two files would otherwise leave them one epoch apart).
    """
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


def rng_state_variables(model: keras.Model) -> list[Any]:
    """The model's random-generator states (dropout/drop-path seeds), in a stable order.

    Keras keeps them in ``model.variables`` but not in ``model.weights``, so ``save_weights``
    does not store them; without them a resumed run would draw other dropout masks.
    """
    weight_ids = {id(w) for w in model.weights}
    return [v for v in model.variables if id(v) not in weight_ids]


def save_rng_states(model: keras.Model, h5_file: Any) -> None:
    """Store the RNG states into an open HDF5 file (group ``islr_rng``)."""
    if RNG_GROUP in h5_file:
        del h5_file[RNG_GROUP]
    group = h5_file.create_group(RNG_GROUP)
    for i, v in enumerate(rng_state_variables(model)):
        group.create_dataset(str(i), data=keras.ops.convert_to_numpy(v.value))
        group[str(i)].attrs["path"] = v.path


def restore_rng_states(model: keras.Model, weights_path: Path) -> None:
    """Restore the RNG states written by :func:`save_rng_states` (error if they don't fit)."""
    import h5py

    variables = rng_state_variables(model)
    with h5py.File(weights_path, "r") as f:
        group = f.get(RNG_GROUP)
        stored = [] if group is None else [group[str(i)][()] for i in range(len(group))]
    if len(stored) != len(variables):
        raise ValueError(
            f"{weights_path}: holds {len(stored)} random-generator states, the model has "
            f"{len(variables)} (was it written by another model config?)"
        )
    for v, value in zip(variables, stored, strict=True):
        v.assign(value)


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
        settings: the run's settings (``run.run_settings``), recorded in the state so that a
            resume can check them.
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
                f.attrs[STATE_ATTR] = json.dumps(state, default=_json_default)
                save_rng_states(self.model, f)
        write_json_atomic(self.layout.state, state)
        write_history_csv(self.metrics_csv, self.history)


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


def current_learning_rate(model: keras.Model | None) -> float:
    """The optimizer's learning rate at its current step (nan if unavailable)."""
    opt = getattr(model, "optimizer", None)
    if opt is None:
        return float("nan")
    with contextlib.suppress(Exception):
        return float(keras.ops.convert_to_numpy(opt.learning_rate))
    return float("nan")


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


# --- divergence ---------------------------------------------------------------------------------
def nonfinite_variables(variables: list[Any]) -> list[str]:
    """Paths of the variables holding any NaN or infinite value (empty when all are finite)."""
    bad = []
    for v in variables:
        value = np.asarray(keras.ops.convert_to_numpy(v.value if hasattr(v, "value") else v))
        if np.issubdtype(value.dtype, np.floating) and not np.isfinite(value).all():
            bad.append(str(getattr(v, "path", getattr(v, "name", "?"))))
    return bad


class DivergenceGuard(keras.callbacks.Callback):
    """Stops training, by raising :class:`~islr.errors.DivergenceError`, once it diverges.

    Checked after every training step: the running loss (a NaN or inf step makes it non-finite
    from that step on). Checked at the end of every epoch, before any checkpoint of it is
    written (so list this callback before :class:`CheckpointState`): the validation loss and
    every weight of the model (trainable or not).

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
        bad = nonfinite_variables(self.model.weights)
        if bad:
            shown = ", ".join(bad[:3]) + (", ..." if len(bad) > 3 else "")
            self._fail(f"{len(bad)} weight tensor(s) hold NaN/inf ({shown})", None)
        for key in ("loss", "val_loss"):
            if key in logs and not math.isfinite(float(logs[key])):
                self._fail(
                    f"{key} is {float(logs[key])} at the end of the epoch (the weights are "
                    "finite, the network's outputs are not)",
                    None,
                )
