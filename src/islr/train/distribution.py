"""Data-parallel training on every local device (``trainer.distribution``).

* ``null``: one device (the default).
* ``data_parallel``: under JAX, :class:`keras.distribution.DataParallel` over all local
  devices: weights are replicated, every batch is split across devices along the batch axis
  and gradients are reduced by XLA, so ``data.batch_size`` stays the *global* batch and a run
  gives the same losses and weights as one device with that batch (a test checks it on two
  simulated CPU devices).

TensorFlow's ``tf.distribute.MirroredStrategy`` is not wired in yet: per-replica BatchNorm
statistics would need synchronised BatchNorm layers in the model to match one device, so
``data_parallel`` under the TensorFlow backend stops with a clear message instead of training a
different model.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import keras

from islr.errors import ConfigError

__all__ = ["DISTRIBUTIONS", "DeviceSetup", "setup_distribution", "teardown_distribution"]

log = logging.getLogger(__name__)

DISTRIBUTIONS = (None, "data_parallel")


@dataclass(frozen=True)
class DeviceSetup:
    """What a run trains on (recorded in ``metrics.json``)."""

    strategy: str | None
    num_devices: int
    num_hosts: int = 1
    platform: str = "cpu"


def setup_distribution(setting: str | None, batch_sizes: tuple[int, ...]) -> DeviceSetup:
    """Activate ``trainer.distribution`` before the model is built.

    Args:
        setting: ``None`` or ``"data_parallel"``.
        batch_sizes: every batch size the run uses (each must split evenly over the devices).

    Raises:
        ConfigError: an unknown setting, a backend without support, or a batch size that does
            not divide by the number of devices.
    """
    if setting not in DISTRIBUTIONS:
        raise ConfigError(f"trainer.distribution={setting!r}: expected null or data_parallel")
    devices = keras.distribution.list_devices()
    platform = str(devices[0]).split(":")[0].lower() if devices else "cpu"
    if setting is None:
        return DeviceSetup(None, 1, platform=platform)
    backend = keras.backend.backend()
    if backend != "jax":
        raise ConfigError(
            f"trainer.distribution=data_parallel is implemented for KERAS_BACKEND=jax; under "
            f"{backend} it is not yet (see the README's 'Scaling up')"
        )
    n = len(devices)
    bad = [b for b in batch_sizes if b % n]
    if bad:
        raise ConfigError(
            f"trainer.distribution=data_parallel over {n} devices: batch size(s) {bad} do not "
            f"divide by {n} (data.batch_size and data.eval_batch_size are global batches)"
        )
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
    log.info("data parallel over %d %s device(s)", n, platform)
    return DeviceSetup("data_parallel", n, platform=platform)


def teardown_distribution() -> None:
    """Back to one device (multirun jobs share a process)."""
    if keras.distribution.distribution() is not None:
        keras.distribution.set_distribution(None)
