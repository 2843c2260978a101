"""Efficient Channel Attention (ECA-Net) over a masked sequence."""

from __future__ import annotations

import math
from typing import Any

import keras
from keras import ops

from islr.model.masking import masked_mean_over_time


def adaptive_eca_kernel_size(channels: int, gamma: float = 2.0, b: float = 1.0) -> int:
    """ECA-Net's adaptive kernel size: the odd number nearest ``|log2(C) / gamma + b / gamma|``.

    Rounds like the paper's reference rule (truncate, then step up to odd), which is the nearest
    odd number except on exact even ties, where it goes up.
    """
    if channels < 1:
        raise ValueError(f"adaptive_eca_kernel_size: channels must be >= 1, got {channels}")
    t = int(abs(math.log2(channels) / gamma + b / gamma))
    return max(1, t if t % 2 else t + 1)


@keras.saving.register_keras_serializable(package="islr")
class ECA(keras.layers.Layer):
    """Efficient Channel Attention for ``[B, T, C]`` sequences.

    ``s = masked mean over time`` (padded steps never enter it), treated as a length-C signal with
    one channel, convolved across channels by one bias-free filter (``same`` padding), squashed
    by a sigmoid and used to rescale every time step: ``y = x * sigmoid(conv(s))``.

    Args:
        kernel_size: odd kernel across channels, or ``None`` for the adaptive ECA-Net size
            (:func:`adaptive_eca_kernel_size` of the channel count).
    """

    def __init__(self, kernel_size: int | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if kernel_size is not None and (isinstance(kernel_size, bool) or int(kernel_size) < 1):
            raise ValueError(
                f"ECA: kernel_size must be a positive int or None, got {kernel_size!r}"
            )
        self.kernel_size = None if kernel_size is None else int(kernel_size)
        self.supports_masking = True

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        channels = input_shape[-1]
        if len(input_shape) != 3 or channels is None:
            raise ValueError(
                f"ECA expects [batch, time, channels] with known channels, got {input_shape}"
            )
        k = self.kernel_size or adaptive_eca_kernel_size(int(channels))
        self.effective_kernel_size = k
        # Same layout as a Conv1D kernel: [width, in_channels=1, filters=1].
        self.kernel = self.add_weight(
            name="kernel", shape=(k, 1, 1), initializer="glorot_uniform", trainable=True
        )
        super().build(input_shape)

    def call(self, inputs: Any, mask: Any | None = None) -> Any:
        s = ops.cast(masked_mean_over_time(inputs, mask), self.compute_dtype)  # [B, C]
        s = ops.expand_dims(s, -1)  # [B, C, 1]: channels become the "time" axis
        s = ops.conv(s, ops.cast(self.kernel, self.compute_dtype), strides=1, padding="same")
        s = ops.sigmoid(ops.squeeze(s, -1))  # [B, C]
        return inputs * ops.expand_dims(s, 1)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"kernel_size": self.kernel_size})
        return config
