"""The replica a layer runs on under TensorFlow's ``tf.distribute`` (MirroredStrategy).

Under ``tf.distribute.MirroredStrategy`` every replica runs the model on its own slice of the
global batch (replica ``r`` of ``n`` gets rows ``r * b .. (r + 1) * b`` of each batch of
``n * b`` rows). Two things a layer computes then differ from one device fed the whole batch:

* batch statistics (BatchNormalization): sums over the local rows only;
* random draws: every replica's generator holds the same state, so each would draw the mask
  of the *first* ``b`` rows.

:func:`sum_over_replicas`, :func:`global_batch_uniform` and :func:`global_batch_dropout` give
the one-device result instead. Outside a multi-replica step (one device, JAX, inference,
export) they are the plain computation: under JAX's ``DataParallel`` the step is traced for
the global batch already.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, NamedTuple

import keras
from keras import ops

__all__ = [
    "ReplicaGroup",
    "global_batch_dropout",
    "global_batch_uniform",
    "replica_group",
    "sum_over_replicas",
]


class ReplicaGroup(NamedTuple):
    """This replica's position: ``replica_id`` (a scalar tensor) of ``num_replicas``."""

    context: Any
    replica_id: Any
    num_replicas: int


def replica_group() -> ReplicaGroup | None:
    """The replica context of a TF step over several replicas, or None.

    None on any other backend, outside ``strategy.run`` and with a single replica.
    """
    if keras.backend.backend() != "tensorflow":
        return None
    # Loaded by Keras' TF backend already; never imported here (importing islr under JAX must
    # not load TensorFlow).
    tf = sys.modules.get("tensorflow")
    if tf is None:
        return None
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync < 2:
        return None
    return ReplicaGroup(context, context.replica_id_in_sync_group, context.num_replicas_in_sync)


def sum_over_replicas(values: Any) -> Any:
    """Sum a tensor (or a nest of tensors) over the replicas of a TF step; else unchanged.

    Differentiable: the gradient of the sum reaches every replica's inputs.
    """
    group = replica_group()
    if group is None:
        return values
    tf = sys.modules["tensorflow"]
    return group.context.all_reduce(tf.distribute.ReduceOp.SUM, values)


def global_batch_uniform(shape: Any, seed: keras.random.SeedGenerator, dtype: str) -> Any:
    """``keras.random.uniform(shape, seed=seed, dtype=dtype)`` for this replica's rows.

    ``shape[0]`` is the local batch. In a TF step over ``n`` replicas each replica draws for
    the ``n``-times larger global batch from the shared generator state and keeps its own
    rows, so the replicas together draw exactly what one device would.
    """
    return _local_rows(lambda s: keras.random.uniform(s, seed=seed, dtype=dtype), shape)


def global_batch_dropout(
    inputs: Any, rate: float, seed: keras.random.SeedGenerator, noise_shape: Any = None
) -> Any:
    """``keras.random.dropout(inputs, rate, noise_shape, seed)`` with this replica's rows of
    the global batch's mask (see :func:`global_batch_uniform`).
    """
    if replica_group() is None:
        return keras.random.dropout(inputs, rate, noise_shape=noise_shape, seed=seed)
    shape = ops.shape(inputs) if noise_shape is None else noise_shape
    # dropout(x) == x * dropout(ones): the kept entries are scaled by 1 / (1 - rate) in the
    # same dtype and the dropped ones are zero, so the product is bit-identical.
    mask = _local_rows(
        lambda s: keras.random.dropout(ops.ones(s, dtype=inputs.dtype), rate, seed=seed), shape
    )
    return inputs * mask


def _local_rows(draw: Callable[[list[Any]], Any], shape: Any) -> Any:
    """``draw(shape)``, or this replica's rows of ``draw`` over the global batch."""
    group = replica_group()
    if group is None:
        return draw(list(shape))
    shape = list(shape)
    local = shape[0]
    drawn = draw([local * group.num_replicas, *shape[1:]])
    start = ops.cast(group.replica_id, "int32") * ops.cast(local, "int32")
    return ops.slice(drawn, [start] + [0] * (len(shape) - 1), [local, *shape[1:]])
