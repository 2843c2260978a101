"""``AugmentSettings``: the recipe's augmentation settings, checked, without Keras.

What ``conf/augment/*.yaml`` builds. The training step applies them with
:class:`islr.augment.BatchAugmentation`; the input pipeline reads the few it needs to know how
many frames to keep per sequence (:func:`islr.train.batch_plan.host_window`). Keeping them out
of the layer lets the pipeline be built before the model (and outside a distribution scope).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

Range = tuple[float, float]


def _probability(value: float, name: str) -> float:
    try:
        p = float(value)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name}: expected a probability in [0, 1], got {value!r}") from err
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name}: expected a probability in [0, 1], got {p}")
    return p


def as_range(value: float | Sequence[float], name: str) -> Range:
    """Normalise a ``(low, high)`` range argument (a single number means ``(v, v)``)."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        low = high = float(value)
    else:
        try:
            items = [float(v) for v in value]  # type: ignore[union-attr]
        except (TypeError, ValueError) as err:
            msg = f"{name}: expected a number or a (low, high) pair, got {value!r}"
            raise ValueError(msg) from err
        if len(items) != 2:
            raise ValueError(f"{name}: expected a (low, high) pair, got {len(items)} values")
        low, high = items
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"{name}: range bounds must be finite, got ({low}, {high})")
    if low > high:
        raise ValueError(f"{name}: low must be <= high, got ({low}, {high})")
    return (low, high)


@dataclass(frozen=True, init=False)
class AugmentSettings:
    """The six augmentations' settings, in the recipe's order; every one is required.

    Order: resample in time (``resample_p``, new length ``round(T * s)``, ``s ~
    U(resample_scale)``), horizontal flip (``flip_p``), random crop to ``max_len`` (always, when
    ``max_len`` is set), affine about the image centre (``affine_p``; scale, shear, rotation in
    degrees and shift ranges), temporal mask of one run of ``f * T`` frames (``temporal_mask_p``,
    ``f ~ U(temporal_mask_size)``), spatial cutout of one square box (``cutout_p``, side ``~
    U(cutout_size)`` of the unit image). ``mask_value`` (``None``: NaN, "not detected") is what
    the two masks write. With ``enabled=False`` sequences only keep their first ``max_len``
    frames. The values live in ``conf/augment/*.yaml``.

    Raises:
        ValueError: a probability outside [0, 1], a bad range, ``max_len < 1``.
    """

    max_len: int | None
    enabled: bool
    resample_p: float
    resample_scale: Range
    flip_p: float
    affine_p: float
    affine_scale: Range
    affine_shear: Range
    affine_rotate_deg: Range
    affine_shift: Range
    temporal_mask_p: float
    temporal_mask_size: Range
    cutout_p: float
    cutout_size: Range
    mask_value: float

    def __init__(
        self,
        *,
        max_len: int | None,
        enabled: bool,
        resample_p: float,
        resample_scale: Sequence[float],
        flip_p: float,
        affine_p: float,
        affine_scale: Sequence[float],
        affine_shear: Sequence[float],
        affine_rotate_deg: Sequence[float],
        affine_shift: Sequence[float],
        temporal_mask_p: float,
        temporal_mask_size: Sequence[float],
        cutout_p: float,
        cutout_size: Sequence[float],
        mask_value: float | None,
    ) -> None:
        if max_len is not None and (
            isinstance(max_len, bool) or int(max_len) != max_len or max_len < 1
        ):
            raise ValueError(f"max_len: expected a positive integer or None, got {max_len!r}")
        values: dict[str, Any] = {
            "max_len": None if max_len is None else int(max_len),
            "enabled": bool(enabled),
            "mask_value": float("nan") if mask_value is None else float(mask_value),
        }
        for name, p in (
            ("resample_p", resample_p),
            ("flip_p", flip_p),
            ("affine_p", affine_p),
            ("temporal_mask_p", temporal_mask_p),
            ("cutout_p", cutout_p),
        ):
            values[name] = _probability(p, name)
        for name, bounds in (
            ("resample_scale", resample_scale),
            ("affine_scale", affine_scale),
            ("affine_shear", affine_shear),
            ("affine_rotate_deg", affine_rotate_deg),
            ("affine_shift", affine_shift),
            ("temporal_mask_size", temporal_mask_size),
            ("cutout_size", cutout_size),
        ):
            values[name] = as_range(bounds, name)
        if values["resample_scale"][0] <= 0.0:
            raise ValueError(f"resample_scale: scales must be > 0, got {values['resample_scale']}")
        for name in ("temporal_mask_size", "cutout_size"):
            low, high = values[name]
            if low < 0.0 or high > 1.0:
                raise ValueError(f"{name}: fractions must lie in [0, 1], got ({low}, {high})")
        for name, value in values.items():
            object.__setattr__(self, name, value)

    @property
    def resamples(self) -> bool:
        """Whether any sequence can change its length in time."""
        return self.enabled and self.resample_p > 0.0

    def get_config(self) -> dict[str, Any]:
        """Every setting as plain Python values: ``AugmentSettings(**s.get_config())``."""
        config = asdict(self)
        for name, value in config.items():
            if isinstance(value, tuple):
                config[name] = list(value)
        config["mask_value"] = None if math.isnan(self.mask_value) else self.mask_value
        return config

    def replace(self, **changes: Any) -> AugmentSettings:
        """A copy with ``changes`` applied (checked like the constructor)."""
        return AugmentSettings(**{**self.get_config(), **changes})


SETTINGS: tuple[str, ...] = tuple(AugmentSettings.__dataclass_fields__)
"""The names of the settings, in the recipe's order."""
