"""Data-parallel training (``trainer.distribution=data_parallel``) equals one device.

JAX runs on two simulated CPU devices (``--xla_force_host_platform_device_count=2``, set before
JAX starts, hence a subprocess): the same global batch on one device and split over two must
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
    "data.preprocess_workers=1", f"data.root={tmp}/data", f"data.cache_dir={tmp}/cache",
    "trainer.epochs=2", "trainer.limit_train_batches=3", "trainer.awp.lambda=0.1",
    "trainer.awp.start_epoch=1", "trainer.late_dropout_start_epoch=1",
    "export.enabled=false", "callbacks.reports.enabled=false",
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
        "val_loss": result["val_loss"],
        "devices": result["devices"],
        "weights": [np.asarray(w).tolist() for w in net.get_weights()],
    }
print("RESULT " + json.dumps(out))
"""


def _run(tmp_path: Path, backend: str, env_extra: dict[str, str]) -> dict:
    env = dict(os.environ, KERAS_BACKEND=backend, **env_extra)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(CONF_DIR), str(tmp_path)],
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


def test_unsupported_settings_are_config_errors(monkeypatch) -> None:
    import keras

    from islr.errors import ConfigError
    from islr.train.distribution import setup_distribution

    with pytest.raises(ConfigError, match="expected null or data_parallel"):
        setup_distribution("model_parallel", (8,))
    if keras.backend.backend() != "jax":
        with pytest.raises(ConfigError, match="KERAS_BACKEND=jax"):
            setup_distribution("data_parallel", (8,))
    assert setup_distribution(None, (7,)).num_devices == 1
