"""Keras layer: a fixed-size frame buffer and a frame count -> the real frames only."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="islr")
class LeadingFrames(keras.layers.Layer):
    """``[frames [W, ...], length [1]]`` -> ``frames[:n]`` with ``n = clip(length, 1, W)``.

    Lets a model with fixed input shapes (what LiteRT.js' shape check accepts) run a network
    that takes a variable number of frames: the frames after ``n`` are never read, so
    whatever fills them (NaN, stale frames) cannot change the result. The count is clipped
    rather than checked because a graph cannot raise; ``n >= 1`` keeps the network's input
    non-empty. Runs in float32 unless a ``dtype`` is requested.

    Args:
        dtype: dtype policy of the layer (``None``: float32, not the global policy).
    """

    def __init__(self, dtype: Any = None, **kwargs: Any) -> None:
        super().__init__(dtype="float32" if dtype is None else dtype, **kwargs)

    def call(self, inputs: Any) -> Any:
        frames, length = inputs
        count = ops.clip(ops.cast(ops.reshape(length, (-1,))[0], "int32"), 1, ops.shape(frames)[0])
        start = [0] * len(frames.shape)
        size = [count, *ops.shape(frames)[1:]]
        return ops.slice(ops.cast(frames, self.compute_dtype), start, size)

    def compute_output_shape(
        self, input_shape: list[tuple[int | None, ...]]
    ) -> tuple[int | None, ...]:
        frames_shape = input_shape[0]
        return (None, *tuple(frames_shape)[1:])

    def get_config(self) -> dict[str, Any]:
        # No constructor arguments of its own.
        return super().get_config()
