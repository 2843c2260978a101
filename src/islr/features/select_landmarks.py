"""Keras layer that picks the 118 feature points out of the 543 MediaPipe landmarks."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from islr.landmarks import N_LANDMARKS, N_POINTS, POINT_INDICES


@keras.saving.register_keras_serializable(package="islr")
class SelectLandmarks(keras.layers.Layer):
    """Select the recipe's 118 points: ``[..., 543, 3] -> [..., 118, 3]``.

    Only export/inference graphs need it (the training cache already stores the 118 points).
    Raw coordinates must not be rounded to bf16 / fp16 before normalisation, so the layer runs
    in float32 under any global policy unless a ``dtype`` is requested for it (honoured). Any
    rank works: raw frames ``[T, 543, 3]`` or batches ``[B, T, 543, 3]``. An incoming mask is
    passed through unchanged.

    Args:
        dtype: dtype policy of the layer (``None``: float32, not the global policy).
    """

    def __init__(self, dtype: Any = None, **kwargs: Any) -> None:
        super().__init__(dtype="float32" if dtype is None else dtype, **kwargs)
        self.supports_masking = True
        self._indices = list(POINT_INDICES)

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        if len(input_shape) < 2 or input_shape[-1] != 3:
            raise ValueError(
                f"SelectLandmarks expects inputs of shape [..., {N_LANDMARKS}, 3], "
                f"got {tuple(input_shape)}"
            )
        if input_shape[-2] is not None and input_shape[-2] != N_LANDMARKS:
            raise ValueError(
                f"SelectLandmarks expects {N_LANDMARKS} landmarks on axis -2, "
                f"got {input_shape[-2]} (shape {tuple(input_shape)})"
            )
        super().build(input_shape)

    def call(self, inputs: Any) -> Any:
        return ops.take(inputs, self._indices, axis=-2)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return (*tuple(input_shape)[:-2], N_POINTS, 3)

    def get_config(self) -> dict[str, Any]:
        # No constructor arguments of its own: the point set is the recipe's constant.
        return super().get_config()
