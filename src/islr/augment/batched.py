"""``BatchAugmentation``: the recipe's six augmentations on a padded batch, as one Keras layer.

The steps, in order: resample in time, horizontal flip, random crop to ``max_len``, affine,
temporal mask, spatial cutout, with the settings of :class:`islr.augment.AugmentSettings`
(``conf/augment/*.yaml``). Written in ``keras.ops`` only, it runs inside the compiled training
step under TensorFlow and JAX, so the host only has to gather and pad.

NaN conventions, chosen so that augmentation never invents landmarks that were not detected:

- resample: a value is NaN wherever an interpolation neighbour with a non-zero weight is NaN; a
  position that falls exactly on an original frame copies it;
- affine: x and y only; z is left unchanged (MediaPipe's z is a relative depth on another
  scale, and the features use it only for the normalisation statistics);
- the masks write ``mask_value`` (NaN: "not detected") into every coordinate of the blanked
  frames / points.

Padding: a batch ``[B, L, 118, 3]`` holds each sequence at the start of time, followed by frames
whose every value is ``pad_value`` (the pipeline's convention; a sequence's length is the index
of its last non-padding frame + 1, as in :class:`islr.features.LandmarkFeatures`). The output is
``[B, L', 118, 3]`` with ``L' = min(max_len, ceil(s * L))``, ``s`` the largest length factor
(``resample_scale[1]``, or 1 if larger and ``resample_p < 1``; 1 when resampling is off);
every sample's augmented frames come first, then padding.

Randomness: every sample gets its own independent draws from ``keras.random`` with a tracked
``keras.random.SeedGenerator``, whose state is a (non-trainable) variable of the layer, so a
checkpoint that stores the model's variables resumes the exact random stream. Under
``tf.distribute`` each replica keeps its rows of the global batch's draws
(:func:`islr.replicas.global_batch_uniform`), so several replicas augment as one device does.
The layer is an identity in inference (``training=False``): it belongs in the training
wrapper, never in an exported network.
"""

from __future__ import annotations

import math
from typing import Any

import keras
from keras import ops

from islr import landmarks
from islr.augment.settings import SETTINGS, AugmentSettings
from islr.replicas import global_batch_uniform

# Columns of the per-sample uniform draws (one fixed column per quantity, so that switching a
# step on or off never shifts the draws of another step).
_RESAMPLE_P, _RESAMPLE_S, _FLIP_P, _CROP = 0, 1, 2, 3
_AFFINE_P, _SCALE, _SHEAR, _ANGLE, _SHIFT = 4, 5, 7, 9, 10
_TMASK_P, _TMASK_F, _TMASK_START = 12, 13, 14
_CUT_P, _CUT_SIDE, _CUT_XY = 15, 16, 17
_N_DRAWS = 19


def _lerp(u: Any, bounds: tuple[float, float]) -> Any:
    """``U(low, high)`` from ``u ~ U(0, 1)`` (exactly ``low`` when ``low == high``)."""
    low, high = bounds
    return low + (high - low) * u


def _randint(u: Any, n: Any) -> Any:
    """An integer uniform over ``[0, n)`` (``n >= 1``, int32) from ``u ~ U(0, 1)``."""
    k = ops.cast(ops.floor(u * ops.cast(n, "float32")), "int32")
    return ops.clip(k, 0, ops.maximum(n - 1, 0))


@keras.saving.register_keras_serializable(package="islr")
class BatchAugmentation(keras.layers.Layer):
    """Apply the reference recipe's augmentations to a padded batch ``[B, L, 118, 3]``.

    Takes every setting of :class:`islr.augment.AugmentSettings` as a required keyword (the
    values live in ``conf/augment/*.yaml``; :meth:`from_settings` builds the layer from them),
    checked the same way. Each sample draws its own decisions and parameters, independently,
    with the probabilities given.

    With ``training`` true: augments (or, with ``enabled=False``, keeps the first ``max_len``
    frames); otherwise returns the input unchanged.

    Args:
        pad_value: the value of every coordinate of a padding frame, on input and output.
        seed: seed of the layer's ``SeedGenerator`` (``None``: drawn from Keras' global seed).
        dtype: dtype policy (``None``: float32, never a mixed policy: coordinates need it).
        **kwargs: the settings (``max_len``, ``enabled``, ``resample_p``, ``resample_scale``,
            ``flip_p``, ``affine_*``, ``temporal_mask_*``, ``cutout_*``, ``mask_value``:
            :data:`islr.augment.SETTINGS`), and ``keras.layers.Layer`` arguments (``name``, ...).

    Raises:
        TypeError: a setting is missing.
        ValueError: a setting is out of range (see ``AugmentSettings``).
    """

    def __init__(
        self,
        *,
        pad_value: float = landmarks.PAD_VALUE,
        seed: int | None = None,
        dtype: Any = None,
        **kwargs: Any,
    ) -> None:
        missing = [name for name in SETTINGS if name not in kwargs]
        if missing:
            raise TypeError(f"BatchAugmentation: missing setting(s) {', '.join(missing)}")
        settings = {name: kwargs.pop(name) for name in SETTINGS}
        super().__init__(dtype="float32" if dtype is None else dtype, **kwargs)
        self.spec = AugmentSettings(**settings)
        for name in SETTINGS:
            setattr(self, name, getattr(self.spec, name))
        self.pad_value = float(pad_value)
        if seed is not None and (isinstance(seed, bool) or int(seed) != seed):
            raise ValueError(f"seed: expected an integer or None, got {seed!r}")
        self.seed = None if seed is None else int(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        self.supports_masking = False

    @classmethod
    def from_settings(cls, settings: AugmentSettings, **kwargs: Any) -> BatchAugmentation:
        """The layer with ``settings`` (``kwargs``: ``seed``, ``name``, ...)."""
        return cls(**settings.get_config(), **kwargs)

    # -- shapes --------------------------------------------------------------------------------
    def _resamples(self) -> bool:
        return self.spec.resamples

    def _longest_scale(self) -> float:
        # Samples that are not resampled (p < 1) keep their length: scale 1.
        return max(self.resample_scale[1], 1.0) if self.resample_p < 1.0 else self.resample_scale[1]

    def output_length(self, length: int | None) -> int | None:
        """The padded output length for a padded input length (``None``: unknown)."""
        if length is None:
            return self.max_len if self.max_len is not None and not self._resamples() else None
        out = int(length)
        if self._resamples():
            out = max(1, math.ceil(self._longest_scale() * out))
        return out if self.max_len is None else min(out, self.max_len)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        # The inference shape (an identity); in training the time axis is ``output_length(L)``.
        return tuple(input_shape)

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        if len(input_shape) != 4 or input_shape[-2] != landmarks.N_POINTS or input_shape[-1] < 2:
            raise ValueError(
                f"BatchAugmentation expects inputs of shape [batch, time, "
                f"{landmarks.N_POINTS}, coords>=2], got {tuple(input_shape)}"
            )
        super().build(input_shape)

    # -- the augmentation ----------------------------------------------------------------------
    def call(self, inputs: Any, training: bool | None = None) -> Any:
        if not training:
            return inputs
        x = ops.cast(inputs, "float32")
        if not self.enabled:
            return x if self.max_len is None else x[:, : self.max_len]
        return self._augment(x)

    def _augment(self, x: Any) -> Any:
        static_len = x.shape[1]
        n_points, n_coords = x.shape[2], x.shape[3]
        shape = ops.shape(x)
        batch, in_len = shape[0], shape[1]
        if static_len is not None:
            out_len: Any = self.output_length(static_len)
        else:
            out_len = ops.cast(in_len, "int32")
            if self._resamples():
                scaled = ops.ceil(self._longest_scale() * ops.cast(in_len, "float32"))
                out_len = ops.maximum(ops.cast(scaled, "int32"), 1)
            if self.max_len is not None:
                out_len = ops.minimum(out_len, self.max_len)

        # Each sample's length: the index of its last non-padding frame + 1.
        is_real = ops.any(ops.not_equal(x, self.pad_value), axis=(2, 3))  # [B, L]
        steps = ops.cast(ops.cumsum(ops.ones_like(ops.cast(is_real, "int32")), axis=1), "int32")
        length = ops.max(ops.where(is_real, steps, 0), axis=1)  # [B] int32

        u = global_batch_uniform((batch, _N_DRAWS), self.seed_generator, "float32")

        def col(k: int) -> Any:
            return u[:, k]

        # 1. resample (new length N) and 3. crop (kept frames M, first kept index `start`).
        t = ops.maximum(length, 1)
        t_f = ops.cast(t, "float32")
        resample = col(_RESAMPLE_P) < self.resample_p
        new_len = ops.cast(ops.round(t_f * _lerp(col(_RESAMPLE_S), self.resample_scale)), "int32")
        n = ops.where(resample, ops.maximum(new_len, 1), t)
        m = n if self.max_len is None else ops.minimum(n, self.max_len)
        start = _randint(col(_CROP), n - m + 1)
        m = ops.where(length > 0, m, 0)

        # Output frame j is resampled frame k = start + j at source position k (T-1) / (N-1),
        # computed in integers so that positions on an original frame are exact.
        j = ops.expand_dims(ops.arange(out_len, dtype="int32"), 0)  # [1, L']
        k = ops.expand_dims(start, 1) + j  # [B, L']
        den = ops.expand_dims(ops.maximum(n - 1, 1), 1)
        num = k * ops.expand_dims(t - 1, 1)
        lo = ops.minimum(num // den, ops.expand_dims(t - 1, 1))
        rem = num - (num // den) * den
        w = ops.cast(rem, "float32") / ops.cast(den, "float32")
        hi = ops.where(rem > 0, ops.minimum(lo + 1, ops.expand_dims(t - 1, 1)), lo)
        valid = j < ops.expand_dims(m, 1)  # [B, L']

        flat = ops.reshape(x, (-1, n_points * n_coords))
        row0 = ops.expand_dims(ops.arange(batch, dtype="int32") * ops.cast(in_len, "int32"), 1)
        a = ops.take(flat, ops.reshape(row0 + lo, (-1,)), axis=0)
        b = ops.take(flat, ops.reshape(row0 + hi, (-1,)), axis=0)
        w_flat = ops.reshape(w, (-1, 1))
        out = (b - a) * w_flat + a  # w == 0 copies a (b is a then): NaN-exact
        out = ops.reshape(out, (batch, out_len, n_points, n_coords))

        # 2. horizontal flip (per frame, so it commutes with the resample and the crop).
        flip = ops.reshape(col(_FLIP_P) < self.flip_p, (-1, 1, 1, 1))
        mirrored = ops.take(out, list(landmarks.FLIP_PERMUTATION), axis=2)
        mirrored = ops.concatenate([1.0 - mirrored[..., :1], mirrored[..., 1:]], axis=-1)
        out = ops.where(flip, mirrored, out)

        # 4. affine on x, y about the centre (0.5, 0.5): p' = R H S (p - c) + c + shift.
        affine = col(_AFFINE_P) < self.affine_p
        sx = _lerp(col(_SCALE), self.affine_scale)
        sy = _lerp(col(_SCALE + 1), self.affine_scale)
        hx = _lerp(col(_SHEAR), self.affine_shear)
        hy = _lerp(col(_SHEAR + 1), self.affine_shear)
        angle = _lerp(col(_ANGLE), self.affine_rotate_deg) * (math.pi / 180.0)
        tx = _lerp(col(_SHIFT), self.affine_shift)
        ty = _lerp(col(_SHIFT + 1), self.affine_shift)
        cos, sin = ops.cos(angle), ops.sin(angle)
        m00, m01 = (cos - sin * hy) * sx, (cos * hx - sin) * sy
        m10, m11 = (sin + cos * hy) * sx, (sin * hx + cos) * sy
        b0 = 0.5 + tx - 0.5 * (m00 + m01)
        b1 = 0.5 + ty - 0.5 * (m10 + m11)

        def per_sample(v: Any, identity: float) -> Any:
            return ops.reshape(ops.where(affine, v, identity), (-1, 1, 1))

        px, py = out[..., 0], out[..., 1]
        new_x = per_sample(m00, 1.0) * px + per_sample(m01, 0.0) * py + per_sample(b0, 0.0)
        new_y = per_sample(m10, 0.0) * px + per_sample(m11, 1.0) * py + per_sample(b1, 0.0)
        out = ops.concatenate(
            [ops.expand_dims(new_x, -1), ops.expand_dims(new_y, -1), out[..., 2:]], axis=-1
        )

        # 5. temporal mask: round(f * M) consecutive frames of the M kept ones.
        tmask = col(_TMASK_P) < self.temporal_mask_p
        f = _lerp(col(_TMASK_F), self.temporal_mask_size)
        n_masked = ops.minimum(ops.cast(ops.round(f * ops.cast(m, "float32")), "int32"), m)
        t0 = _randint(col(_TMASK_START), m - n_masked + 1)
        blanked = (
            ops.expand_dims(tmask, 1)
            & (j >= ops.expand_dims(t0, 1))
            & (j < ops.expand_dims(t0 + n_masked, 1))
        )  # [B, L']
        out = ops.where(ops.reshape(blanked, (batch, out_len, 1, 1)), self.mask_value, out)

        # 6. spatial cutout: a box of side a inside the unit square, in every frame.
        cut = col(_CUT_P) < self.cutout_p
        side = _lerp(col(_CUT_SIDE), self.cutout_size)
        x0 = col(_CUT_XY) * (1.0 - side)
        y0 = col(_CUT_XY + 1) * (1.0 - side)

        def box(v: Any) -> Any:
            return ops.reshape(v, (-1, 1, 1))

        px, py = out[..., 0], out[..., 1]
        inside = (
            (px >= box(x0))
            & (px < box(x0 + side))
            & (py >= box(y0))
            & (py < box(y0 + side))
            & box(cut)
        )  # [B, L', P]
        out = ops.where(ops.expand_dims(inside, -1), self.mask_value, out)

        # Padding after each sample's M frames.
        return ops.where(ops.reshape(valid, (batch, out_len, 1, 1)), out, self.pad_value)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(self.spec.get_config())
        config.update({"pad_value": self.pad_value, "seed": self.seed})
        return config
