"""A diverged run stops at once, says why, keeps only finite checkpoints and exports nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from fast_training import TINY_TRAINING, compose_train
from islr.errors import DivergenceError, NonFiniteWeightsError
from islr.train.checkpoint import CheckpointState, read_training_state
from islr.train.divergence import DivergenceGuard


def _small_model() -> keras.Model:
    inputs = keras.Input((4,))
    return keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Dense(8)(inputs)))


class _Batches(keras.utils.PyDataset):
    def __init__(self, n_batches: int = 6) -> None:
        super().__init__()
        rng = np.random.default_rng(0)
        self.x = rng.normal(size=(n_batches, 8, 4)).astype("float32")
        self.y = rng.integers(0, 3, size=(n_batches, 8))

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int):
        return self.x[i], self.y[i]


class _PoisonWeights(keras.callbacks.Callback):
    """Fault injection: NaN into one weight before a given (epoch, step), both 0-based."""

    def __init__(self, epoch: int, step: int) -> None:
        super().__init__()
        self.at = (epoch, step)
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            w = self.model.weights[0]
            w.assign(np.full(w.shape, np.nan, "float32"))


class _Snapshot(keras.callbacks.Callback):
    """Keeps best.keras's bytes as they were at the start of each epoch."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path, self.bytes = path, {}

    def on_epoch_begin(self, epoch, logs=None):
        self.bytes[epoch] = self.path.read_bytes() if self.path.exists() else None


@pytest.mark.backend
def test_guard_stops_at_the_step_and_keeps_the_last_finite_checkpoint(tmp_path: Path) -> None:
    model = _small_model()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    ckpt = CheckpointState(tmp_path, model, validate=False)
    snap = _Snapshot(ckpt.best_path)
    callbacks = [_PoisonWeights(epoch=1, step=2), snap, DivergenceGuard("hint"), ckpt]
    with pytest.raises(DivergenceError, match=r"epoch 2, step 3 \(global step 9\).*loss.*hint"):
        model.fit(_Batches(), epochs=3, callbacks=callbacks, verbose=0)
    # Epoch 1's checkpoints are untouched and finite; epoch 2 was never written.
    assert ckpt.best_path.read_bytes() == snap.bytes[1]
    best = keras.saving.load_model(ckpt.best_path, compile=False)
    assert all(np.isfinite(keras.ops.convert_to_numpy(w)).all() for w in best.weights)
    assert read_training_state(ckpt.weights_path)["epoch"] == 1
    assert json.loads((tmp_path / "checkpoints" / "state.json").read_text())["epoch"] == 1


@pytest.mark.backend
def test_guard_checks_weights_at_epoch_end(tmp_path: Path) -> None:
    # A NaN written after the last step of an epoch: caught before any checkpoint is made.
    class PoisonAtEnd(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 5:
                w = self.model.weights[-1]
                w.assign(np.full(w.shape, np.inf, "float32"))

    model = _small_model()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    ckpt = CheckpointState(tmp_path, model, validate=False)
    with pytest.raises(DivergenceError, match=r"epoch 1: 1 weight tensor\(s\) hold NaN/inf") as e:
        model.fit(
            _Batches(), epochs=1, callbacks=[PoisonAtEnd(), DivergenceGuard(), ckpt], verbose=0
        )
    assert (e.value.epoch, e.value.step) == (1, None)
    assert not ckpt.best_path.exists() and not ckpt.weights_path.exists()


def test_loss_scale_skips_are_not_divergence() -> None:
    """mixed_float16: steps whose scaled gradients overflow are skipped by the optimizer, with a
    finite loss and unchanged weights; the guard must let them pass."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("float16 overflow behaviour checked under TensorFlow")
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = _small_model()
        optimizer = keras.optimizers.LossScaleOptimizer(
            keras.optimizers.SGD(0.1), initial_scale=2.0**24
        )
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
        before = [keras.ops.convert_to_numpy(w).copy() for w in model.weights]
        history = model.fit(_Batches(), epochs=4, callbacks=[DivergenceGuard()], verbose=0)
    finally:
        keras.config.set_dtype_policy("float32")
    scale = float(keras.ops.convert_to_numpy(optimizer.dynamic_scale))
    assert scale < 2.0**24  # steps were skipped (each halves the scale) ...
    assert all(np.isfinite(history.history["loss"]))  # ... and the run carried on
    after = [keras.ops.convert_to_numpy(w) for w in model.weights]
    assert any(not np.array_equal(a, b) for a, b in zip(before, after, strict=True))


def _islr_train(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    script = Path(sys.executable).parent / "islr-train"
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "islr.cli.train"]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.run(
        [*cmd, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.mark.slow
def test_islr_train_with_a_huge_learning_rate_fails_in_one_line(tiny_root, tiny_cache, tmp_path):
    run = tmp_path / "run"
    done = _islr_train(
        [
            *TINY_TRAINING,
            f"data.root={tiny_root}",
            f"data.cache_dir={tiny_cache.cache_dir}",
            "optim.learning_rate=1e4",
            "trainer.epochs=2",
            "trainer.limit_train_batches=5",
            "trainer.limit_val_batches=2",
            f"hydra.run.dir={run}",
        ],
        cwd=tmp_path,
    )
    assert done.returncode == 1, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("islr-train: training diverged at epoch "), last
    for cause in ("optim.learning_rate=10000.0", "trainer.precision=float32", "input data"):
        assert cause in last
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["status"] == "diverged" and "val_top1" not in metrics
    assert not (run / "export").exists()
    best = run / "checkpoints" / "best.keras"
    if best.exists():  # diverged after a finite epoch: that epoch's network, finite
        assert "last finite network" in last
        net = keras.saving.load_model(best, compile=False)
        assert all(np.isfinite(keras.ops.convert_to_numpy(w)).all() for w in net.weights)
    else:
        assert "no checkpoint exists" in last


@pytest.mark.slow
def test_resume_and_export_refuse_non_finite_weights(tiny_root, tiny_cache, tmp_path):
    import h5py

    from islr.train import train

    run = tmp_path / "run"
    args = [
        *TINY_TRAINING,
        f"data.root={tiny_root}",
        f"data.cache_dir={tiny_cache.cache_dir}",
        "trainer.epochs=1",
        "trainer.limit_train_batches=2",
        "export.enabled=false",
        "callbacks.reports.enabled=false",
        f"paths.output_dir={run}",
    ]
    train(compose_train(args))
    weights = run / "checkpoints" / "last.weights.h5"
    with h5py.File(weights, "a") as f:
        names: list[str] = []
        f.visit(lambda n: names.append(n) if isinstance(f[n], h5py.Dataset) else None)
        target = next(n for n in names if f[n].dtype.kind == "f" and f[n].size > 1)
        f[target][...] = np.nan
    with pytest.raises(NonFiniteWeightsError, match=r"resume: .*last\.weights\.h5 holds NaN/inf"):
        train(compose_train([*args, "resume=true"]))

    pytest.importorskip("tensorflow")
    from islr.export import ExportSettings, export_models

    net = keras.saving.load_model(run / "checkpoints" / "best.keras", compile=False)
    w = net.weights[0]
    w.assign(np.full(w.shape, np.nan, "float32"))
    bad = tmp_path / "diverged.keras"
    net.save(bad)
    previous = tmp_path / "export"  # a previous export stays as it was
    previous.mkdir()
    (previous / "report.json").write_text("{}")
    with pytest.raises(NonFiniteWeightsError, match=r"diverged\.keras: 1 weight tensor"):
        export_models([bad], previous, ExportSettings.shipped(), max_len=None, sign_map=None)
    assert sorted(p.name for p in previous.iterdir()) == ["report.json"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".export.partial")]


@pytest.mark.slow
def test_a_diverged_sweep_job_does_not_stop_the_sweep(tiny_root, tiny_cache, tmp_path):
    sweep = tmp_path / "sweep"
    done = _islr_train(
        [
            "--multirun",
            *TINY_TRAINING,
            f"data.root={tiny_root}",
            f"data.cache_dir={tiny_cache.cache_dir}",
            "trainer.epochs=1",
            "trainer.limit_train_batches=3",
            "export.enabled=false",
            "callbacks.reports.enabled=false",
            "optim.learning_rate=1e4,3e-3",
            f"hydra.sweep.dir={sweep}",
        ],
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    statuses = {
        json.loads((sweep / job / "metrics.json").read_text()).get("status", "ok"): job
        for job in ("0", "1")
    }
    assert statuses == {"diverged": "0", "ok": "1"}
    summary = json.loads((sweep / "cv_summary.json").read_text())
    assert [j["job"] for j in summary["jobs"]] == ["1"]  # the diverged job is not ranked
