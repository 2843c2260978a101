"""The recipe's Conv1D block: expand, causal depthwise conv, BN, ECA, project, residual."""

from __future__ import annotations

from typing import Any

import keras

from islr.model.batch_norm import BatchNormalization
from islr.model.causal_conv import CausalDepthwiseConv1D
from islr.model.drop_path import DropPath
from islr.model.eca import ECA
from islr.model.frame_dense import FrameDense


@keras.saving.register_keras_serializable(package="islr")
class Conv1DBlock(keras.layers.Layer):
    """``x + DropPath(Dense(dim)(ECA(BN(CausalDWConv(Dense(dim * expand, act)(x))))))``.

    Output width is ``dim``; the inner width ``dim * expand_ratio``; the residual is added only
    when the input width equals ``dim``. The sub-layers are created in :meth:`build` from the
    input shape. Causal convolution keeps real frames blind to end padding; the mask is
    passed on.

    Args:
        dim: output channels.
        kernel_size: width of the causal depthwise convolution.
        expand_ratio: width multiplier of the inner (expanded) channels.
        drop_path_rate: per-sample stochastic-depth rate on the branch.
        eca_kernel_size: ECA kernel (``None``: adaptive).
        bn_momentum: BatchNormalization momentum.
        activation: activation of the expansion Dense (name or callable).
        dilation_rate: dilation of the depthwise convolution.
    """

    def __init__(
        self,
        dim: int,
        kernel_size: int,
        expand_ratio: int,
        drop_path_rate: float,
        eca_kernel_size: int | None,
        bn_momentum: float,
        activation: Any = "swish",
        dilation_rate: int = 1,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if int(dim) < 1 or int(expand_ratio) < 1:
            raise ValueError(
                f"Conv1DBlock: dim and expand_ratio must be >= 1, got {dim!r}, {expand_ratio!r}"
            )
        self.dim = int(dim)
        self.kernel_size = int(kernel_size)
        self.expand_ratio = int(expand_ratio)
        self.drop_path_rate = float(drop_path_rate)
        self.eca_kernel_size = eca_kernel_size
        self.bn_momentum = float(bn_momentum)
        self.activation = keras.activations.get(activation)
        self.dilation_rate = int(dilation_rate)
        self.supports_masking = True

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(
                f"Conv1DBlock expects [batch, time, channels], got {tuple(input_shape)}"
            )
        inner = (*input_shape[:-1], self.dim * self.expand_ratio)
        policy = self.dtype_policy
        self.expand = FrameDense(
            self.dim * self.expand_ratio, activation=self.activation, dtype=policy, name="expand"
        )
        self.expand.build(input_shape)
        self.dwconv = CausalDepthwiseConv1D(
            self.kernel_size, dilation_rate=self.dilation_rate, dtype=policy, name="dwconv"
        )
        self.dwconv.build(inner)
        self.bn = BatchNormalization(momentum=self.bn_momentum, dtype=policy, name="bn")
        self.bn.build(inner)
        self.eca = ECA(self.eca_kernel_size, dtype=policy, name="eca")
        self.eca.build(inner)
        self.project = FrameDense(self.dim, dtype=policy, name="project")
        self.project.build(inner)
        self.drop_path = DropPath(self.drop_path_rate, dtype=policy, name="drop_path")
        self.residual = input_shape[-1] == self.dim
        super().build(input_shape)

    def call(self, inputs: Any, mask: Any | None = None, training: bool | None = None) -> Any:
        x = self.expand(inputs)
        x = self.dwconv(x)
        x = self.bn(x, training=training, mask=mask)  # batch statistics over real frames only
        x = self.eca(x, mask=mask)
        x = self.project(x)
        x = self.drop_path(x, training=training)
        return inputs + x if self.residual else x

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return (*input_shape[:-1], self.dim)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "dim": self.dim,
                "kernel_size": self.kernel_size,
                "expand_ratio": self.expand_ratio,
                "drop_path_rate": self.drop_path_rate,
                "eca_kernel_size": self.eca_kernel_size,
                "bn_momentum": self.bn_momentum,
                "activation": keras.activations.serialize(self.activation),
                "dilation_rate": self.dilation_rate,
            }
        )
        return config
