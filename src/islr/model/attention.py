"""Multi-head self-attention with padded keys masked out."""

from __future__ import annotations

import warnings
from typing import Any

import keras
from keras import ops

from islr.model.frame_dense import FrameDense
from islr.replicas import global_batch_dropout

# Added to the logits of padded keys; finite so that a query with no real key gets a uniform
# (not NaN) distribution. Applied in float32, where it cannot overflow.
_MASKED_LOGIT = -1e9


@keras.saving.register_keras_serializable(package="islr")
class MultiHeadSelfAttention(keras.layers.Layer):
    """Self-attention over ``[B, T, C]`` whose keys at padded steps get zero weight.

    The model width ``C`` comes from the input shape. ``qkv = Dense(3 * C, no bias)``, split
    into ``num_heads`` heads of ``C // num_heads``; logits are scaled by ``C ** -0.5``
    (``scale="dim"``, the reference recipe's choice) or by ``head_dim ** -0.5``
    (``scale="head"``, the textbook choice); softmax in float32; attention dropout; output
    ``Dense(C, no bias)``. No positional information is added. The mask is passed on.

    Args:
        num_heads: number of heads; must divide the input width.
        dropout: dropout rate on the attention weights (training only).
        scale: ``"dim"`` or ``"head"``, see above.
        seed: optional seed of the dropout generator.
    """

    def __init__(
        self,
        num_heads: int,
        dropout: float,
        scale: str,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(num_heads, bool) or int(num_heads) != num_heads or num_heads < 1:
            raise ValueError(
                f"MultiHeadSelfAttention: num_heads must be an int >= 1, got {num_heads!r}"
            )
        if scale not in ("dim", "head"):
            raise ValueError(
                f"MultiHeadSelfAttention: scale must be 'dim' or 'head', got {scale!r}"
            )
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"MultiHeadSelfAttention: dropout must be in [0, 1), got {dropout!r}")
        self.num_heads = int(num_heads)
        self.dropout = float(dropout)
        self.scale = scale
        self.seed = seed
        self.supports_masking = True

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        dim = input_shape[-1]
        if len(input_shape) != 3 or dim is None or dim % self.num_heads:
            raise ValueError(
                "MultiHeadSelfAttention expects [batch, time, channels] with channels a "
                f"multiple of num_heads={self.num_heads}, got {tuple(input_shape)}"
            )
        self.dim = int(dim)
        self.head_dim = self.dim // self.num_heads
        policy = self.dtype_policy
        self.qkv = FrameDense(3 * self.dim, use_bias=False, dtype=policy, name="qkv")
        self.qkv.build(input_shape)
        self.out = FrameDense(self.dim, use_bias=False, dtype=policy, name="out")
        self.out.build(input_shape)
        self.attn_drop = keras.layers.Dropout(
            self.dropout, seed=self.seed, dtype=policy, name="attn_drop"
        )
        super().build(input_shape)

    def _factor(self) -> float:
        return (self.dim if self.scale == "dim" else self.head_dim) ** -0.5

    def _heads(self, x: Any, batch: Any) -> Any:
        """``[B, T, dim] -> [B, H, T, hd]``."""
        heads = ops.reshape(x, (batch, -1, self.num_heads, self.head_dim))
        return ops.transpose(heads, (0, 2, 1, 3))

    def call(self, inputs: Any, mask: Any | None = None, training: bool | None = None) -> Any:
        # Time is reshaped as -1 and q, k, v are sliced off the channel axis: with a static
        # batch (the exported model's 1), every reshape then has a constant shape and no 5-D
        # transpose is needed, which made the TFLite attention ~3x faster on one CPU thread.
        batch = ops.shape(inputs)[0]
        qkv = self.qkv(inputs)
        q = self._heads(qkv[..., : self.dim], batch)
        k = self._heads(qkv[..., self.dim : 2 * self.dim], batch)
        v = self._heads(qkv[..., 2 * self.dim :], batch)
        logits = ops.matmul(q, ops.transpose(k, (0, 1, 3, 2))) * ops.cast(self._factor(), q.dtype)
        logits = ops.cast(logits, "float32")  # [B, H, Tq, Tk]
        if mask is not None:
            key_ok = ops.expand_dims(ops.expand_dims(ops.cast(mask, "bool"), 1), 1)  # [B,1,1,Tk]
            logits = ops.where(key_ok, logits, _MASKED_LOGIT)
        with warnings.catch_warnings():
            # A single time step (T = 1) is legitimate here; keras warns about size-1 softmax.
            warnings.filterwarnings("ignore", message="You are using a softmax over axis")
            weights = ops.cast(ops.softmax(logits, axis=-1), self.compute_dtype)
        if training and self.dropout > 0:
            # The Dropout layer's own generator, but over replicas (tf.distribute) each replica
            # keeps its rows of the global batch's mask, as one device would draw it.
            weights = global_batch_dropout(weights, self.dropout, self.attn_drop.seed_generator)
        context = ops.matmul(weights, v)  # [B, H, T, hd]
        context = ops.reshape(ops.transpose(context, (0, 2, 1, 3)), (batch, -1, self.dim))
        return self.out(context)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "dropout": self.dropout,
                "scale": self.scale,
                "seed": self.seed,
            }
        )
        return config
