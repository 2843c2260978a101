"""Data-parallel training (``trainer.distribution=data_parallel``) equals one device.

JAX runs on two simulated CPU devices (``--xla_force_host_platform_device_count=2``, set before
JAX starts, hence a subprocess), TensorFlow's MirroredStrategy on two logical CPU devices (set
before TF initialises its devices): the same global batch on one device and split over two must
give the same losses and weights after several steps, up to float32 reduction order.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"
TOLERANCE = 1e-4  # float32; the two runs differ only in the order of the gradient sums

# TF only, before anything initialises TF's devices: split the CPU into two logical devices.
TF_TWO_CPUS = r"""
import tensorflow as tf
_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(_cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
"""

SCRIPT = r"""
import json, sys
import keras, numpy as np
from hydra import compose, initialize_config_dir
from islr.data import ensure_cache, generate_dataset
from islr.data.synthetic import PRESETS
from islr.train import train

conf, tmp = sys.argv[1], sys.argv[2]
generate_dataset(tmp + "/data", seed=0, workers=1, progress=False, **PRESETS["tiny"])
common = [
    "model=tiny", "model.dim=32", "model.num_heads=2", "augment=light",
    "data.max_len=32", "data.bucketing=false", "data.batch_size=8", "data.eval_batch_size=8",
    f"data.root={tmp}/data", f"data.cache_dir={tmp}/cache",
    "trainer.epochs=2", "trainer.limit_train_batches=3", "trainer.awp.lambda=0.1",
    "trainer.awp.start_epoch=1", "trainer.late_dropout_start_epoch=1",
    "export.enabled=false", "callbacks.reports.enabled=false", *sys.argv[3:],
]
out = {"devices": len(keras.distribution.list_devices())}
for name, setting in (("one", "null"), ("two", "data_parallel")):
    with initialize_config_dir(config_dir=conf, version_base="1.3"):
        cfg = compose("train", overrides=[*common, f"trainer.distribution={setting}",
                                          f"paths.output_dir={tmp}/{name}"])
    result = train(cfg)
    net = keras.saving.load_model(f"{tmp}/{name}/checkpoints/last.keras", compile=False)
    out[name] = {
        "loss": [h["loss"] for h in result["history"]],
        "epoch_val_loss": [h["val_loss"] for h in result["history"]],  # fit's evaluation
        "val_loss": result["val_loss"],
        "devices": result["devices"],
        "weights": [np.asarray(w).tolist() for w in net.get_weights()],
    }
print("RESULT " + json.dumps(out))
"""


def _run(
    tmp_path: Path,
    backend: str,
    env_extra: dict[str, str],
    prologue: str = "",
    overrides: tuple[str, ...] = (),
) -> dict:
    env = dict(os.environ, KERAS_BACKEND=backend, **env_extra)
    done = subprocess.run(
        [sys.executable, "-c", prologue + SCRIPT, str(CONF_DIR), str(tmp_path), *overrides],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(ln for ln in done.stdout.splitlines() if ln.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


@pytest.mark.slow
def test_jax_two_devices_match_one_device(tmp_path) -> None:
    import numpy as np

    out = _run(tmp_path, "jax", {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"})
    assert out["devices"] == 2
    one, two = out["one"], out["two"]
    assert one["devices"]["num_devices"] == 1 and two["devices"]["num_devices"] == 2
    assert two["devices"]["strategy"] == "data_parallel"
    np.testing.assert_allclose(two["loss"], one["loss"], rtol=TOLERANCE, atol=TOLERANCE)
    assert two["val_loss"] == pytest.approx(one["val_loss"], rel=TOLERANCE, abs=TOLERANCE)
    assert len(one["weights"]) == len(two["weights"])
    for a, b in zip(one["weights"], two["weights"], strict=True):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-3, atol=TOLERANCE)


# Loads a saved network and predicts (the TF test loads its data-parallel network under JAX).
LOAD_UNDER_JAX = r"""
import json, sys
import keras, numpy as np
import islr.model  # registers the islr layers
net = keras.saving.load_model(sys.argv[1], compile=False)
probe = np.load(sys.argv[2])
print("RESULT " + json.dumps(np.asarray(net.predict(probe, verbose=0)).tolist()))
"""


@pytest.mark.slow
def test_tf_mirrored_two_devices_match_one_device(tmp_path) -> None:
    """MirroredStrategy on two logical CPUs equals one device (BatchNorm statistics, dropout
    masks, the augmentation's draws (``augment=light``) and AWP's perturbation over the global
    batch), and its network loads under JAX."""
    import keras
    import numpy as np

    import islr.model  # noqa: F401  (registers the islr layers for load_model)

    out = _run(
        tmp_path,
        "tensorflow",
        {},
        prologue=TF_TWO_CPUS,
        # One epoch with AWP and late dropout on from the first step (TF traces each train
        # function per replica: a second epoch without AWP would double the time), and length
        # buckets: variable-length batches split over the replicas.
        overrides=(
            "data.bucketing=true",
            "data.buckets=[16,32]",
            "data.eval_batch_size=12",  # 40 samples: the last batch is 8 weight-0 fillers
            "trainer.epochs=1",
            "trainer.awp.start_epoch=0",
            "trainer.late_dropout_start_epoch=0",
        ),
    )
    assert out["devices"] == 2
    one, two = out["one"], out["two"]
    assert one["devices"]["num_devices"] == 1 and two["devices"]["num_devices"] == 2
    assert two["devices"]["strategy"] == "data_parallel"
    # Measured: losses within 3e-7, weights within 6e-6 (float32 sums in another order).
    np.testing.assert_allclose(two["loss"], one["loss"], rtol=TOLERANCE, atol=TOLERANCE)
    # fit's validation runs split over the replicas too (filler rows included).
    np.testing.assert_allclose(
        two["epoch_val_loss"], one["epoch_val_loss"], rtol=TOLERANCE, atol=TOLERANCE
    )
    assert two["val_loss"] == pytest.approx(one["val_loss"], rel=TOLERANCE, abs=TOLERANCE)
    assert len(one["weights"]) == len(two["weights"])
    for a, b in zip(one["weights"], two["weights"], strict=True):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-3, atol=TOLERANCE)

    saved = tmp_path / "two" / "checkpoints" / "last.keras"
    net = keras.saving.load_model(saved, compile=False)
    probe = np.random.default_rng(0).normal(size=(2, 16, *net.input_shape[2:])).astype("float32")
    np.save(tmp_path / "probe.npy", probe)
    done = subprocess.run(
        [sys.executable, "-c", LOAD_UNDER_JAX, str(saved), str(tmp_path / "probe.npy")],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, KERAS_BACKEND="jax"),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(ln for ln in done.stdout.splitlines() if ln.startswith("RESULT "))
    under_jax = np.asarray(json.loads(line[len("RESULT ") :]))
    np.testing.assert_allclose(under_jax, net.predict(probe, verbose=0), rtol=1e-4, atol=1e-4)


def test_unsupported_settings_are_config_errors(monkeypatch) -> None:
    import keras

    from islr.errors import ConfigError
    from islr.train.distribution import setup_distribution, teardown_distribution

    with pytest.raises(ConfigError, match="expected null or data_parallel"):
        setup_distribution("model_parallel", (8,))
    assert setup_distribution(None, (7,)).num_devices == 1
    # Both backends support data_parallel (TF: a MirroredStrategy to build the model under).
    setup = setup_distribution("data_parallel", (8,))
    try:
        assert setup.strategy == "data_parallel"
        assert setup.num_devices == len(keras.distribution.list_devices())
        with setup.scope():
            if keras.backend.backend() == "tensorflow":
                import tensorflow as tf

                assert tf.distribute.get_strategy() is setup.tf_strategy
    finally:
        teardown_distribution()
