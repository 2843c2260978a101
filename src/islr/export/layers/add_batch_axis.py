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
    TFLite. Runs in float32 so raw coordinates are never rounded.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.pop("dtype", None)  # raw coordinates stay float32 under any policy
        super().__init__(dtype="float32", **kwargs)

    def call(self, inputs: Any) -> Any:
        return ops.expand_dims(ops.cast(inputs, "float32"), 0)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return (1, *tuple(input_shape))

    def get_config(self) -> dict[str, Any]:
        # No constructor arguments of its own.
        return super().get_config()
