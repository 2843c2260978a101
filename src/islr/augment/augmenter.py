"""``Augmenter``: the reference recipe's random augmentation pipeline for one raw sequence."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from islr import landmarks
from islr.augment import ops


def _probability(value: float, name: str) -> float:
    try:
        p = float(value)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name}: expected a probability in [0, 1], got {value!r}") from err
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name}: expected a probability in [0, 1], got {p}")
    return p


class Augmenter:
    """Apply the recipe's augmentations to one raw ``[T, 118, 3]`` sequence, in the recipe order.

    Order: resample in time (``resample_p``), horizontal flip (``flip_p``), random crop to
    ``max_len`` (always, when ``max_len`` is set), affine (``affine_p``), temporal mask
    (``temporal_mask_p``), spatial cutout (``cutout_p``). Each step is decided by an independent
    draw from the generator passed to ``__call__``, so one seed gives one result. The defaults are
    the reference recipe's values. With ``enabled=False`` the input is returned unchanged (as a
    float32 copy). ``mask_value`` (``None`` means NaN) is what the two masks write.

    The input must have ``T >= 1`` frames (the pipeline drops all-NaN frames first); the output
    always has at least one frame.

    ``on_device`` does not change what ``__call__`` does; it tells the training pipeline where
    to run the augmentations: per sample in numpy on the host (False), or batched inside the
    compiled training step by :class:`islr.augment.batched.BatchAugmentation` with these same
    settings (True; the host then only gathers and pads).
    """

    def __init__(
        self,
        max_len: int | None = landmarks.MAX_LEN,
        enabled: bool = True,
        resample_p: float = 0.8,
        resample_scale: Sequence[float] = (0.5, 1.5),
        flip_p: float = 0.5,
        affine_p: float = 0.75,
        affine_scale: Sequence[float] = (0.8, 1.2),
        affine_shear: Sequence[float] = (-0.15, 0.15),
        affine_rotate_deg: Sequence[float] = (-30.0, 30.0),
        affine_shift: Sequence[float] = (-0.1, 0.1),
        temporal_mask_p: float = 0.5,
        temporal_mask_size: Sequence[float] = (0.2, 0.4),
        cutout_p: float = 0.5,
        cutout_size: Sequence[float] = (0.2, 0.4),
        mask_value: float | None = float("nan"),
        on_device: bool = False,
    ) -> None:
        if max_len is not None and (
            isinstance(max_len, bool) or not isinstance(max_len, int | np.integer) or max_len < 1
        ):
            raise ValueError(f"max_len: expected a positive integer or None, got {max_len!r}")
        self.max_len = None if max_len is None else int(max_len)
        self.enabled = bool(enabled)
        self.resample_p = _probability(resample_p, "resample_p")
        self.resample_scale = ops.as_range(resample_scale, "resample_scale")
        if self.resample_scale[0] <= 0.0:
            raise ValueError(f"resample_scale: scales must be > 0, got {self.resample_scale}")
        self.flip_p = _probability(flip_p, "flip_p")
        self.affine_p = _probability(affine_p, "affine_p")
        self.affine_scale = ops.as_range(affine_scale, "affine_scale")
        self.affine_shear = ops.as_range(affine_shear, "affine_shear")
        self.affine_rotate_deg = ops.as_range(affine_rotate_deg, "affine_rotate_deg")
        self.affine_shift = ops.as_range(affine_shift, "affine_shift")
        self.temporal_mask_p = _probability(temporal_mask_p, "temporal_mask_p")
        self.temporal_mask_size = ops.as_range(temporal_mask_size, "temporal_mask_size")
        self.cutout_p = _probability(cutout_p, "cutout_p")
        self.cutout_size = ops.as_range(cutout_size, "cutout_size")
        for name in ("temporal_mask_size", "cutout_size"):
            low, high = getattr(self, name)
            if low < 0.0 or high > 1.0:
                raise ValueError(f"{name}: fractions must lie in [0, 1], got ({low}, {high})")
        self.mask_value = float("nan") if mask_value is None else float(mask_value)
        self.on_device = bool(on_device)

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Return an augmented float32 copy of ``x`` (``[T, 118, 3]``, ``T >= 1``)."""
        arr = ops.check_sequence(x)
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng: expected a numpy.random.Generator, got {type(rng).__name__}")
        if not self.enabled:
            return arr.copy()
        # One uniform draw per optional step, always taken, so a step's decision does not shift
        # the random stream of the steps after it between configurations with p in {0, 1}.
        if rng.random() < self.resample_p:
            arr = ops.temporal_resample(arr, rng, self.resample_scale)
        if rng.random() < self.flip_p:
            arr = ops.horizontal_flip(arr)
        if self.max_len is not None:
            arr = ops.random_crop(arr, rng, self.max_len)
        if rng.random() < self.affine_p:
            arr = ops.random_affine(
                arr,
                rng,
                scale=self.affine_scale,
                shear=self.affine_shear,
                rotate_deg=self.affine_rotate_deg,
                shift=self.affine_shift,
            )
        if rng.random() < self.temporal_mask_p:
            arr = ops.temporal_mask(arr, rng, self.temporal_mask_size, self.mask_value)
        if rng.random() < self.cutout_p:
            arr = ops.spatial_cutout(arr, rng, self.cutout_size, self.mask_value)
        if arr is x:  # nothing applied: never hand the caller's array back
            arr = arr.copy()
        return arr

    def get_config(self) -> dict[str, Any]:
        """Every constructor argument as plain Python values: ``Augmenter(**a.get_config())``."""
        return {
            "max_len": self.max_len,
            "enabled": self.enabled,
            "resample_p": self.resample_p,
            "resample_scale": list(self.resample_scale),
            "flip_p": self.flip_p,
            "affine_p": self.affine_p,
            "affine_scale": list(self.affine_scale),
            "affine_shear": list(self.affine_shear),
            "affine_rotate_deg": list(self.affine_rotate_deg),
            "affine_shift": list(self.affine_shift),
            "temporal_mask_p": self.temporal_mask_p,
            "temporal_mask_size": list(self.temporal_mask_size),
            "cutout_p": self.cutout_p,
            "cutout_size": list(self.cutout_size),
            "mask_value": None if math.isnan(self.mask_value) else self.mask_value,
            "on_device": self.on_device,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Augmenter:
        """Inverse of ``get_config``."""
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"Augmenter({args})"
