"""Masked global average pooling that stays finite for empty sequences."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from islr.model.masking import masked_mean_over_time


@keras.saving.register_keras_serializable(package="islr")
class MaskedGlobalAveragePooling1D(keras.layers.Layer):
    """Average ``[B, T, C]`` over real time steps -> ``[B, C]``.

    Unlike ``keras.layers.GlobalAveragePooling1D`` (0 / 0 = NaN), a sequence with no real step
    pools to zeros. Accumulates in float32. Consumes the mask (the output has no time axis).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs: Any, mask: Any | None = None) -> Any:
        return ops.cast(masked_mean_over_time(inputs, mask), self.compute_dtype)

    def compute_mask(self, inputs: Any, mask: Any | None = None) -> None:
        return None

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return (input_shape[0], input_shape[-1])

    def get_config(self) -> dict[str, Any]:
        # No constructor arguments of its own.
        return super().get_config()
