"""Keras layer: one video ``[T, ...]`` -> a batch of one ``[1, T, ...]``."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="islr")
class AddBatchAxis(keras.layers.Layer):
    """Prepend a batch axis of size 1: ``[T, 543, 3] -> [1, T, 543, 3]``.

    The Kaggle contract feeds one video without a batch dimension, while the trained networks
    take batches. ``ops.expand_dims`` is used because new-axis slicing becomes a Flex op in
    TFLite. Raw coordinates are never rounded: the layer runs in float32 under any global
    policy unless a ``dtype`` is requested for it (honoured).

    Args:
        dtype: dtype policy of the layer (``None``: float32, not the global policy).
    """

    def __init__(self, dtype: Any = None, **kwargs: Any) -> None:
        super().__init__(dtype="float32" if dtype is None else dtype, **kwargs)

    def call(self, inputs: Any) -> Any:
        return ops.expand_dims(ops.cast(inputs, self.compute_dtype), 0)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return (1, *tuple(input_shape))

    def get_config(self) -> dict[str, Any]:
        # No constructor arguments of its own.
        return super().get_config()
