"""Pre-norm Transformer block (BatchNorm or LayerNorm)."""

from __future__ import annotations

from typing import Any

import keras

from islr.model.attention import MultiHeadSelfAttention
from islr.model.batch_norm import BatchNormalization
from islr.model.drop_path import DropPath
from islr.model.frame_dense import FrameDense


@keras.saving.register_keras_serializable(package="islr")
class TransformerBlock(keras.layers.Layer):
    """``x += DropPath(MHSA(N(x)))``; ``x += DropPath(Dense(C)(Dense(C*expand, act)(N(x))))``.

    The width ``C`` comes from the input ``[B, T, C]``; the sub-layers are created in
    :meth:`build`. ``N`` is BatchNormalization (``norm="batch"``, statistics over real frames
    only) or LayerNormalization (``norm="layer"``). Both FFN Dense layers are bias-free. The
    mask is passed on.

    Args:
        num_heads: attention heads (must divide the input width).
        expand_ratio: FFN width multiplier.
        attn_drop_rate: dropout on attention weights.
        drop_path_rate: per-sample stochastic depth on both branches.
        bn_momentum: BatchNormalization momentum (``norm="batch"``).
        norm: ``"batch"`` or ``"layer"``.
        attn_scale: ``"dim"`` (reference quirk) or ``"head"``; see MultiHeadSelfAttention.
        activation: FFN activation (name or callable).
    """

    def __init__(
        self,
        num_heads: int,
        expand_ratio: int,
        attn_drop_rate: float,
        drop_path_rate: float,
        bn_momentum: float,
        norm: str,
        attn_scale: str,
        activation: Any = "swish",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if norm not in ("batch", "layer"):
            raise ValueError(f"TransformerBlock: norm must be 'batch' or 'layer', got {norm!r}")
        if attn_scale not in ("dim", "head"):
            raise ValueError(
                f"TransformerBlock: attn_scale must be 'dim' or 'head', got {attn_scale!r}"
            )
        if isinstance(expand_ratio, bool) or int(expand_ratio) < 1:
            raise ValueError(f"TransformerBlock: expand_ratio must be >= 1, got {expand_ratio!r}")
        self.num_heads = int(num_heads)
        self.expand_ratio = int(expand_ratio)
        self.attn_drop_rate = float(attn_drop_rate)
        self.drop_path_rate = float(drop_path_rate)
        self.bn_momentum = float(bn_momentum)
        self.norm = norm
        self.attn_scale = attn_scale
        self.activation = keras.activations.get(activation)
        self.supports_masking = True

    def _make_norm(self, name: str) -> keras.layers.Layer:
        if self.norm == "batch":
            return BatchNormalization(momentum=self.bn_momentum, dtype=self.dtype_policy, name=name)
        return keras.layers.LayerNormalization(dtype=self.dtype_policy, name=name)

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(
                f"TransformerBlock expects [batch, time, channels], got {tuple(input_shape)}"
            )
        dim = int(input_shape[-1])
        inner = (*input_shape[:-1], dim * self.expand_ratio)
        policy = self.dtype_policy
        # Created in the order of the weights of saved models (norm1, attn, ..., drop_path2).
        self.norm1 = self._make_norm("norm1")
        self.norm1.build(input_shape)
        self.attn = MultiHeadSelfAttention(
            self.num_heads, self.attn_drop_rate, self.attn_scale, dtype=policy, name="attn"
        )
        self.attn.build(input_shape)
        self.drop_path1 = DropPath(self.drop_path_rate, dtype=policy, name="drop_path1")
        self.norm2 = self._make_norm("norm2")
        self.norm2.build(input_shape)
        self.ffn_expand = FrameDense(
            dim * self.expand_ratio,
            use_bias=False,
            activation=self.activation,
            dtype=policy,
            name="ffn_expand",
        )
        self.ffn_expand.build(input_shape)
        self.ffn_project = FrameDense(dim, use_bias=False, dtype=policy, name="ffn_project")
        self.ffn_project.build(inner)
        self.drop_path2 = DropPath(self.drop_path_rate, dtype=policy, name="drop_path2")
        super().build(input_shape)

    def _normalize(self, layer: keras.layers.Layer, x: Any, mask: Any, training: Any) -> Any:
        if self.norm == "batch":
            return layer(x, training=training, mask=mask)
        return layer(x)

    def call(self, inputs: Any, mask: Any | None = None, training: bool | None = None) -> Any:
        h = self._normalize(self.norm1, inputs, mask, training)
        h = self.attn(h, mask=mask, training=training)
        x = inputs + self.drop_path1(h, training=training)
        h = self._normalize(self.norm2, x, mask, training)
        h = self.ffn_project(self.ffn_expand(h))
        return x + self.drop_path2(h, training=training)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "expand_ratio": self.expand_ratio,
                "attn_drop_rate": self.attn_drop_rate,
                "drop_path_rate": self.drop_path_rate,
                "bn_momentum": self.bn_momentum,
                "norm": self.norm,
                "attn_scale": self.attn_scale,
                "activation": keras.activations.serialize(self.activation),
            }
        )
        return config
