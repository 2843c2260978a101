"""Data-parallel training on every local device (``trainer.distribution``).

* ``null``: one device (the default).
* ``data_parallel``: under JAX, :class:`keras.distribution.DataParallel` over all local
  devices: weights are replicated, every batch is split across devices along the batch axis
  and gradients are reduced by XLA, so ``data.batch_size`` stays the *global* batch and a run
  gives the same losses and weights as one device with that batch (a test checks it on two
  simulated CPU devices). Under TensorFlow, ``tf.distribute.MirroredStrategy`` over the same
  devices: the model and optimizer are created and compiled inside :meth:`DeviceSetup.scope`,
  Keras splits each global batch into one equal slice per replica and sums the gradients.
  Two things would still differ from one device, and the model handles both itself
  (:mod:`islr.replicas`): BatchNorm statistics are summed over the replicas
  (:class:`islr.model.batch_norm.BatchNormalization`; Keras' ``synchronized=True`` ignores
  masked inputs) and every dropout / drop-path draw is made for the global batch, each
  replica keeping its rows. AWP sums its first gradient over the replicas. A test checks
  the equivalence on two logical CPU devices.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from dataclasses import dataclass, field
from typing import Any

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
    # TensorFlow only: the tf.distribute strategy the model must be built and compiled under.
    tf_strategy: Any = field(default=None, compare=False, repr=False)

    def scope(self) -> contextlib.AbstractContextManager[Any]:
        """Where to create, compile and load the model: the TF strategy's scope, else a no-op
        (JAX's distribution is global, set by :func:`setup_distribution`)."""
        return (
            self.tf_strategy.scope() if self.tf_strategy is not None else contextlib.nullcontext()
        )


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
    if backend not in ("jax", "tensorflow"):
        raise ConfigError(
            f"trainer.distribution=data_parallel is implemented for KERAS_BACKEND=jax and "
            f"tensorflow, not {backend} (see docs/scaling.md)"
        )
    n = len(devices)
    bad = [b for b in batch_sizes if b % n]
    if bad:
        raise ConfigError(
            f"trainer.distribution=data_parallel over {n} devices: batch size(s) {bad} do not "
            f"divide by {n} (data.batch_size and data.eval_batch_size are global batches)"
        )
    if backend == "tensorflow":
        return _mirrored(devices, platform)
    import jax  # the JAX path only

    # Every process's devices together, in process order: process k's share of a global batch
    # (rows [k*B/P, (k+1)*B/P), see islr.train.pipeline) lands on its own devices.
    ordered = sorted(jax.devices(), key=lambda d: (d.process_index, d.id))
    names = [f"{d.platform}:{d.id}" for d in ordered]
    # auto_shard_dataset=False: each process's SequenceBatches already serves its own shard.
    dp = keras.distribution.DataParallel(devices=names, auto_shard_dataset=False)
    keras.distribution.set_distribution(dp)
    hosts = jax.process_count()
    log.info("data parallel over %d %s device(s) on %d host(s)", n, platform, hosts)
    return DeviceSetup("data_parallel", n, num_hosts=hosts, platform=platform)


def _mirrored(devices: list[str], platform: str) -> DeviceSetup:
    """A ``tf.distribute.MirroredStrategy`` over ``devices`` (Keras' names, "gpu:0", ...)."""
    tf = sys.modules["tensorflow"]  # loaded by Keras' TF backend; never imported under JAX
    strategy = tf.distribute.MirroredStrategy([f"/{d}" for d in devices])
    log.info("data parallel (MirroredStrategy) over %d %s device(s)", len(devices), platform)
    return DeviceSetup("data_parallel", len(devices), platform=platform, tf_strategy=strategy)


def teardown_distribution() -> None:
    """Back to one device (multirun jobs share a process)."""
    if keras.distribution.distribution() is not None:
        keras.distribution.set_distribution(None)
