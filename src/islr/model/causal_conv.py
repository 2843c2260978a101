"""Causal depthwise 1-D convolution that keeps the padding mask."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="islr")
class CausalDepthwiseConv1D(keras.layers.Layer):
    """Depthwise Conv1D whose output at step ``t`` sees only steps ``<= t``.

    Pads ``dilation_rate * (kernel_size - 1)`` zeros on the left of time only, then a ``valid``
    depthwise convolution (depth multiplier 1), so ``T`` is preserved. With padding at the end of
    time, real frames therefore never see padded ones. Keras' own ``DepthwiseConv1D`` and
    ``ZeroPadding1D`` drop masks; this layer passes the mask on unchanged.

    Args:
        kernel_size: temporal width of each channel's filter.
        dilation_rate: temporal dilation.
        use_bias: add a per-channel bias (the reference recipe uses none).
        kernel_initializer: initializer of the ``[kernel_size, channels, 1]`` kernel.
    """

    def __init__(
        self,
        kernel_size: int,
        dilation_rate: int = 1,
        use_bias: bool = False,
        kernel_initializer: Any = "glorot_uniform",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        for name, value in (("kernel_size", kernel_size), ("dilation_rate", dilation_rate)):
            if isinstance(value, bool) or int(value) != value or value < 1:
                raise ValueError(
                    f"CausalDepthwiseConv1D: {name} must be an int >= 1, got {value!r}"
                )
        self.kernel_size = int(kernel_size)
        self.dilation_rate = int(dilation_rate)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.supports_masking = True

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        channels = input_shape[-1]
        if len(input_shape) != 3 or channels is None:
            raise ValueError(
                "CausalDepthwiseConv1D expects [batch, time, channels] with known channels, "
                f"got {input_shape}"
            )
        # Layout of keras' DepthwiseConv1D kernel, so weights can move between the two.
        self.kernel = self.add_weight(
            name="kernel",
            shape=(self.kernel_size, int(channels), 1),
            initializer=self.kernel_initializer,
            trainable=True,
        )
        self.bias = (
            self.add_weight(name="bias", shape=(int(channels),), initializer="zeros")
            if self.use_bias
            else None
        )
        super().build(input_shape)

    def call(self, inputs: Any, mask: Any | None = None) -> Any:
        left = self.dilation_rate * (self.kernel_size - 1)
        x = ops.pad(inputs, [[0, 0], [left, 0], [0, 0]]) if left else inputs
        y = ops.depthwise_conv(
            x, self.kernel, strides=1, padding="valid", dilation_rate=self.dilation_rate
        )
        if self.bias is not None:
            y = y + self.bias
        return y

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "kernel_size": self.kernel_size,
                "dilation_rate": self.dilation_rate,
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            }
        )
        return config
