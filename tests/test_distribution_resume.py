"""``trainer.distribution=data_parallel`` under JAX resumes exactly after a SIGKILL.

Two simulated CPU devices (``--xla_force_host_platform_device_count=2``, set before JAX starts,
hence subprocesses): a run killed after its first checkpoint and resumed with ``resume=true``
must end with the uninterrupted run's weights, optimizer state and losses, bit for bit -- with
the recipe's augmentations (their random state is part of the checkpoint) and AWP switching on
in the resumed epoch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from fast_training import FAST, h5_arrays, sigkill_after_first_checkpoint


@pytest.mark.slow
def test_jax_data_parallel_resumes_exactly_after_sigkill(tiny_root, tiny_cache, tmp_path) -> None:
    """Two simulated devices: a run killed (SIGKILL) after its first checkpoint and resumed
    ends with the weights, optimizer state and losses of the uninterrupted run."""
    epochs = 2
    env = dict(
        os.environ,
        KERAS_BACKEND="jax",
        XLA_FLAGS="--xla_force_host_platform_device_count=2",
        PYTHONUNBUFFERED="1",
    )
    cmd = [
        sys.executable,
        "-m",
        "islr.cli.train",
        *FAST,
        f"data.root={tiny_root}",
        f"data.cache_dir={tiny_cache.cache_dir}",
        f"trainer.epochs={epochs}",
        "trainer.limit_train_batches=3",
        "trainer.distribution=data_parallel",
        "augment=default",
        "trainer.awp.lambda=0.2",
        "trainer.awp.start_epoch=1",
        "data.fold=all",  # no validation: compiling it would double the test's time
        "callbacks.reports.enabled=false",
        "seed=3",
    ]
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    done = subprocess.run([*cmd, f"hydra.run.dir={straight}"], env=env, capture_output=True)
    assert done.returncode == 0, done.stderr[-3000:]
    interrupted_at = sigkill_after_first_checkpoint([*cmd, f"hydra.run.dir={killed}"], killed, env)
    assert 1 <= interrupted_at < epochs
    resumed = subprocess.run(
        [*cmd, f"hydra.run.dir={killed}", "resume=true"], env=env, capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resumed from" in resumed.stderr + resumed.stdout

    metrics = [json.loads((d / "metrics.json").read_text()) for d in (straight, killed)]
    assert [m["devices"]["num_devices"] for m in metrics] == [2, 2]
    assert [r["loss"] for r in metrics[1]["history"]] == [r["loss"] for r in metrics[0]["history"]]
    a = h5_arrays(straight / "checkpoints" / "last.weights.h5")
    b = h5_arrays(killed / "checkpoints" / "last.weights.h5")
    assert a.keys() == b.keys() and len(a) > 10
    assert any(name.startswith("islr_rng") for name in a)  # the augmentation's seed state too
    for name in a:  # exact: same programs on the same devices, same batches, same RNG states
        np.testing.assert_array_equal(b[name], a[name], err_msg=name)
    # the augmentation lives in the training wrapper only, never in the saved network
    import keras

    import islr.model  # noqa: F401  (registers islr's layers for loading)
    from islr.augment.batched import BatchAugmentation

    network = keras.saving.load_model(straight / "checkpoints" / "best.keras", compile=False)
    assert not any(isinstance(layer, BatchAugmentation) for layer in network._flatten_layers())
