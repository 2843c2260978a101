"""The 708-feature Keras layer (reference recipe §2), shared by training, export and TFLite."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from islr.landmarks import (
    N_FEATURES,
    N_POINTS,
    PAD_VALUE,
    REFERENCE_FALLBACK,
    REFERENCE_POINT,
)


def _isnan(x: Any) -> Any:
    # NaN is the only value unequal to itself; unlike `ops.isnan` this lowers to the TFLite
    # builtin NOT_EQUAL instead of a TF-only op.
    return ops.not_equal(x, x)


def _shift_back(x: Any, steps: int) -> Any:
    """``y[:, t] = x[:, t + steps]``, zeros past the end; works for any (also dynamic) T."""
    # Concatenating `steps` zero frames and slicing keeps the static length and never needs a
    # negative or empty-sized pad, which matters for T < steps.
    zeros = ops.zeros_like(x[:, :1])
    padded = ops.concatenate([x] + [zeros] * steps, axis=1)
    return padded[:, steps:]


@keras.saving.register_keras_serializable(package="islr")
class LandmarkFeatures(keras.layers.Layer):
    """Turn selected landmark frames ``[B, T, 118, 3]`` into features ``[B, T', 708]``.

    Per sequence (recipe §2): the reference point is the NaN-ignoring mean of
    ``landmarks.REFERENCE_POINT`` over the real frames (0.5 on an axis where it is never seen);
    the per-axis scale is ``sqrt(nanmean((p - ref)^2))`` over all real frames and all 118 points
    (before truncation); points are normalised, the first ``max_len`` frames kept, z dropped;
    ``dx[t] = p[t+1] - p[t]`` and ``dx2[t] = p[t+2] - p[t]`` are zero where ``t+1`` / ``t+2``
    lies past the last real frame; ``[p, dx, dx2]`` are flattened point-major with x, y
    interleaved and every NaN becomes 0.

    Padding: padded frames sit at the end of time and hold ``pad_value`` in all 354 inputs.
    They never enter the statistics, get ``pad_value`` in all 708 outputs, and
    ``compute_mask`` returns the ``[B, T']`` real-frame mask (an incoming mask is ignored: the
    padding value is the source of truth). All-NaN frames are real frames.

    Precision: statistics of ~50k coordinates lose too much in bf16 / fp16, so the layer runs
    in float32 under any global dtype policy unless a ``dtype`` is requested for it explicitly.
    A requested policy is honoured (inputs and outputs in its compute dtype) while the
    statistics are still accumulated in float32.

    Args:
        max_len: frames kept per sequence (``None``: keep all). ``T' = min(T, max_len)``.
        pad_value: value that marks padded frames on input and output.
        dtype: dtype policy of the layer (``None``: float32, not the global policy).
    """

    def __init__(
        self,
        max_len: int | None,
        pad_value: float = PAD_VALUE,
        dtype: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(dtype="float32" if dtype is None else dtype, **kwargs)
        if max_len is not None and (isinstance(max_len, bool) or int(max_len) != max_len):
            raise ValueError(
                f"LandmarkFeatures: max_len must be a positive int or None, got {max_len!r}"
            )
        if max_len is not None and max_len < 1:
            raise ValueError(f"LandmarkFeatures: max_len must be >= 1 or None, got {max_len!r}")
        self.max_len = None if max_len is None else int(max_len)
        self.pad_value = float(pad_value)
        self.supports_masking = True

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        if len(input_shape) != 4 or input_shape[-1] != 3 or input_shape[-2] != N_POINTS:
            raise ValueError(
                f"LandmarkFeatures expects inputs of shape [batch, time, {N_POINTS}, 3], "
                f"got {tuple(input_shape)}"
            )
        super().build(input_shape)

    # -- helpers ---------------------------------------------------------------------------
    def _frame_info(self, x: Any) -> tuple[Any, Any]:
        """Per-frame time index ``[B, T]`` and real-frame count ``[B, 1]`` (float32).

        The count is the index of the last non-padding frame + 1, so an odd frame equal to
        padding inside a sequence still counts as real. All-NaN frames are real (NaN != pad).
        """
        is_real = ops.any(ops.not_equal(x, self.pad_value), axis=(2, 3))  # [B, T]
        # cumsum instead of arange(shape): works on symbolic tensors with unknown T as well.
        steps = ops.cumsum(ops.ones_like(ops.cast(is_real, "float32")), axis=1)  # 1..T
        length = ops.max(ops.where(is_real, steps, 0.0), axis=1, keepdims=True)
        return steps - 1.0, length

    def _truncate(self, x: Any) -> Any:
        return x if self.max_len is None else x[:, : self.max_len]

    # -- Keras API -------------------------------------------------------------------------
    def call(self, inputs: Any) -> Any:
        x = ops.cast(inputs, "float32")
        t_idx, length = self._frame_info(x)  # [B, T], [B, 1]
        real = ops.less(t_idx, length)  # [B, T]
        real4 = ops.expand_dims(ops.expand_dims(real, -1), -1)  # [B, T, 1, 1]

        # z only ever feeds its own (discarded) ref/std component: drop it right away.
        xy = x[..., :2]  # [B, T, 118, 2]

        # Reference point: NaN-ignoring mean over real frames, fallback where never seen.
        ref_pts = xy[:, :, REFERENCE_POINT, :]  # [B, T, 2]
        ref_ok = ops.logical_and(ops.equal(ref_pts, ref_pts), ops.expand_dims(real, -1))
        ref_cnt = ops.sum(ops.cast(ref_ok, "float32"), axis=1)  # [B, 2]
        ref_sum = ops.sum(ops.where(ref_ok, ref_pts, 0.0), axis=1)
        ref = ops.where(
            ref_cnt > 0, ref_sum / ops.maximum(ref_cnt, 1.0), REFERENCE_FALLBACK
        )  # [B, 2]
        ref = ops.expand_dims(ops.expand_dims(ref, 1), 1)  # [B, 1, 1, 2]

        # Scale per axis over the whole (untruncated) real sequence; NaN when nothing is seen.
        centred = xy - ref
        ok = ops.logical_and(ops.equal(centred, centred), real4)  # not NaN, real frame
        # Sum points first, then frames: two short float32 reductions lose far less precision
        # than one over T*118 values (measured ~10x on TF CPU).
        cnt = ops.sum(ops.sum(ops.cast(ok, "float32"), axis=2), axis=1)  # [B, 2]
        sq = ops.sum(ops.sum(ops.where(ok, centred * centred, 0.0), axis=2), axis=1)
        nan = ops.cast(float("nan"), "float32")
        std = ops.where(cnt > 0, ops.sqrt(sq / ops.maximum(cnt, 1.0)), nan)
        std = ops.expand_dims(ops.expand_dims(std, 1), 1)  # [B, 1, 1, 2]

        p = self._truncate(centred) / std  # [B, T', 118, 2]
        real = self._truncate(real)
        t_idx = self._truncate(t_idx)
        if self.max_len is not None:
            length = ops.minimum(length, float(self.max_len))

        # A difference exists only while its later frame is still a real, kept frame.
        has1 = ops.less(t_idx + 1.0, length)
        has2 = ops.less(t_idx + 2.0, length)
        dx = _shift_back(p, 1) - p
        dx2 = _shift_back(p, 2) - p
        dx = ops.where(ops.expand_dims(ops.expand_dims(has1, -1), -1), dx, 0.0)
        dx2 = ops.where(ops.expand_dims(ops.expand_dims(has2, -1), -1), dx2, 0.0)

        feats = ops.concatenate([p, dx, dx2], axis=2)  # [B, T', 354, 2]
        # -1 frames: with the exported model's static batch of 1 the reshape needs no shape ops.
        feats = ops.reshape(feats, (ops.shape(feats)[0], -1, N_FEATURES))
        feats = ops.where(_isnan(feats), 0.0, feats)
        out = ops.where(ops.expand_dims(real, -1), feats, self.pad_value)
        # Statistics are float32 in every case; the result comes in the layer's compute dtype.
        return out if self.compute_dtype == "float32" else ops.cast(out, self.compute_dtype)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        t_idx, length = self._frame_info(ops.cast(inputs, "float32"))
        return self._truncate(ops.less(t_idx, length))

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        t = input_shape[1]
        if t is not None and self.max_len is not None:
            t = min(t, self.max_len)
        return (input_shape[0], t, N_FEATURES)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"max_len": self.max_len, "pad_value": self.pad_value})
        return config
