"""Mask helpers shared by the masked layers."""

from __future__ import annotations

from typing import Any

from keras import ops


def masked_mean_over_time(x: Any, mask: Any | None) -> Any:
    """Mean of ``x [B, T, C]`` over real time steps only; 0 (not NaN) when none is real.

    Reduces in float32 so long bf16/fp16 sequences do not lose the mean to rounding.
    """
    x32 = ops.cast(x, "float32")
    if mask is None:
        return ops.mean(x32, axis=1)
    m = ops.expand_dims(ops.cast(mask, "float32"), -1)  # [B, T, 1]
    total = ops.sum(x32 * m, axis=1)
    count = ops.maximum(ops.sum(m, axis=1), 1.0)
    return total / count
