"""The test oracle of the augmentations: the recipe's six steps as plain numpy, per sequence.

An independent implementation of what :class:`islr.augment.BatchAugmentation` (the one islr
trains with) does to each sample of a batch, written for clarity: one sequence of raw selected
points ``x`` of shape ``[T, P, C]`` (normally ``[T, 118, 3]``) and a ``numpy.random.Generator``
per call. Functions never modify their input and return a new float32 array.
``tests/test_augment.py`` checks its defining properties; ``tests/test_augment_batched.py``
checks the layer against it (exactly, with fixed parameters; in distribution, with the
recipe's random ones).

NaN conventions (the layer's, see :mod:`islr.augment.batched`):

- ``temporal_resample``: a resampled value is NaN wherever an interpolation neighbour that has a
  non-zero weight is NaN. A resampled position that falls exactly on an original frame copies it.
- ``random_affine`` transforms x and y only; z is left unchanged.
- The masks write ``value`` (NaN by default, i.e. "not detected") into every coordinate of the
  blanked frames / points.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from omegaconf import OmegaConf

from islr import landmarks
from islr.augment import AugmentSettings
from islr.augment.settings import Range, as_range
from islr.config import group_config


# --- argument checking -------------------------------------------------------------------------
def check_sequence(x: np.ndarray, name: str = "x", min_coords: int = 2) -> np.ndarray:
    """Return ``x`` as a float32 array after checking it is a ``[T>=1, P, C>=min_coords]`` sequence.

    The result may share memory with ``x``: callers copy before writing.
    """
    arr = np.asarray(x, dtype=np.float32)
    if arr.ndim != 3:
        raise ValueError(
            f"{name}: expected a landmark sequence of shape [T, points, coords], got shape "
            f"{arr.shape}"
        )
    if arr.shape[0] < 1:
        raise ValueError(f"{name}: the sequence has no frames (T=0); at least one is required")
    if arr.shape[2] < min_coords:
        raise ValueError(f"{name}: expected at least {min_coords} coordinates, got {arr.shape[2]}")
    return arr


def _check_fraction_range(value: float | Sequence[float], name: str) -> Range:
    low, high = as_range(value, name)
    if low < 0.0 or high > 1.0:
        raise ValueError(f"{name}: fractions must lie in [0, 1], got ({low}, {high})")
    return (low, high)


def _uniform(rng: np.random.Generator, bounds: Range, size: int | None = None):
    # rng.uniform(a, a) returns a exactly, so fixed ranges give exact parameters (used by tests).
    return rng.uniform(bounds[0], bounds[1], size=size)


# --- 1. resample in time ----------------------------------------------------------------------
def temporal_resample(
    x: np.ndarray,
    rng: np.random.Generator,
    scale_range: float | Sequence[float] = (0.5, 1.5),
) -> np.ndarray:
    """Change the speed of a sequence: new length ``max(1, round(T * s))``, ``s ~ U(scale_range)``.

    Linear interpolation in time on an evenly spaced grid that starts on the first frame and ends
    on the last one, so both are kept exactly (when the new length is 1 only the first frame is
    kept). NaN-aware: a value is NaN where a neighbour with non-zero weight is NaN.
    """
    arr = check_sequence(x)
    low, high = as_range(scale_range, "scale_range")
    if low <= 0.0:
        raise ValueError(f"scale_range: scales must be > 0, got ({low}, {high})")
    n_frames = arr.shape[0]
    new_len = max(1, round(n_frames * float(_uniform(rng, (low, high)))))
    if new_len == 1:
        return arr[:1].copy()
    # np.linspace sets the end point exactly, so the last position is exactly T - 1.
    pos = np.linspace(0.0, n_frames - 1, new_len)
    lo = np.floor(pos).astype(np.int64)
    w = (pos - lo).astype(np.float32)
    # Where b's weight is zero, interpolate a with itself (a + 0 * 0 == a exactly), so a NaN in
    # the unused neighbour cannot leak into a position that falls on an original frame.
    hi = np.where(w > 0.0, np.minimum(lo + 1, n_frames - 1), lo)
    a = arr[lo]
    out = arr[hi]
    out -= a
    out *= w.reshape(-1, 1, 1)
    out += a
    return out


# --- 2. horizontal flip -------------------------------------------------------------------------
def horizontal_flip(x: np.ndarray) -> np.ndarray:
    """Mirror a sequence left-right: ``x <- 1 - x`` and swap left/right points.

    The points are permuted by ``landmarks.FLIP_PERMUTATION`` (hands, eyes, lip halves, nose
    sides), so the result is the sequence a mirrored video would give. Applying it twice is the
    identity.
    """
    arr = check_sequence(x)
    if arr.shape[1] != landmarks.N_POINTS:
        raise ValueError(
            f"x: horizontal_flip needs the {landmarks.N_POINTS} selected points, got "
            f"{arr.shape[1]} points"
        )
    out = np.take(arr, landmarks.FLIP_PERMUTATION, axis=1)  # a new array
    np.subtract(np.float32(1.0), out[..., 0], out=out[..., 0])
    return out


# --- 3. random crop ---------------------------------------------------------------------------
def random_crop(x: np.ndarray, rng: np.random.Generator, max_len: int) -> np.ndarray:
    """Keep a random window of ``max_len`` consecutive frames if ``T > max_len``, else all."""
    arr = check_sequence(x)
    if isinstance(max_len, bool) or not isinstance(max_len, int | np.integer) or max_len < 1:
        raise ValueError(f"max_len: expected a positive integer, got {max_len!r}")
    n_frames = arr.shape[0]
    if n_frames <= max_len:
        return arr.copy()
    start = int(rng.integers(0, n_frames - max_len + 1))
    return arr[start : start + max_len].copy()


# --- 4. random affine ---------------------------------------------------------------------------
def random_affine(
    x: np.ndarray,
    rng: np.random.Generator,
    scale: float | Sequence[float] = (0.8, 1.2),
    shear: float | Sequence[float] = (-0.15, 0.15),
    rotate_deg: float | Sequence[float] = (-30.0, 30.0),
    shift: float | Sequence[float] = (-0.1, 0.1),
) -> np.ndarray:
    """Random affine map of x, y about the image centre (0.5, 0.5); z is left unchanged.

    Independent draws per call: one scale and one shear per axis, one rotation angle and one
    shift per axis. ``p' = R @ H @ S @ (p - c) + c + shift`` with ``S = diag(sx, sy)``,
    ``H = [[1, hx], [hy, 1]]`` and ``R`` the rotation matrix of the angle (image coordinates have y
    pointing down, so a positive angle turns clockwise on screen). NaN stays NaN.
    """
    arr = check_sequence(x)
    s = _uniform(rng, as_range(scale, "scale"), size=2)
    h = _uniform(rng, as_range(shear, "shear"), size=2)
    angle = math.radians(float(_uniform(rng, as_range(rotate_deg, "rotate_deg"))))
    t = _uniform(rng, as_range(shift, "shift"), size=2)
    cos, sin = math.cos(angle), math.sin(angle)
    rot = np.array([[cos, -sin], [sin, cos]])
    shear_m = np.array([[1.0, h[0]], [h[1], 1.0]])
    (m00, m01), (m10, m11) = (rot @ shear_m @ np.diag(s)).tolist()
    # Fold the centring into the offset: p' = M @ p + (c + t - M @ c), c = (0.5, 0.5).
    b0 = 0.5 + float(t[0]) - 0.5 * (m00 + m01)
    b1 = 0.5 + float(t[1]) - 0.5 * (m10 + m11)
    # Elementwise rather than a batched 2x2 matmul, which numpy runs slowly; NaN propagates.
    px, py = arr[..., 0], arr[..., 1]
    out = np.empty_like(arr)
    out[..., 0] = np.float32(m00) * px + np.float32(m01) * py + np.float32(b0)
    out[..., 1] = np.float32(m10) * px + np.float32(m11) * py + np.float32(b1)
    out[..., 2:] = arr[..., 2:]
    return out


# --- 5. temporal mask ---------------------------------------------------------------------------
def temporal_mask(
    x: np.ndarray,
    rng: np.random.Generator,
    size: float | Sequence[float] = (0.2, 0.4),
    value: float = float("nan"),
) -> np.ndarray:
    """Blank one run of consecutive frames: ``round(f * T)`` frames, ``f ~ U(size)``.

    Every coordinate of every point in the run is set to ``value`` (NaN: "not detected"). The
    run's start is uniform over the positions where it fits.
    """
    arr = check_sequence(x)
    bounds = _check_fraction_range(size, "size")
    n_frames = arr.shape[0]
    n_masked = min(n_frames, round(float(_uniform(rng, bounds)) * n_frames))
    out = arr.copy()
    if n_masked == 0:
        return out
    start = int(rng.integers(0, n_frames - n_masked + 1))
    out[start : start + n_masked] = np.float32(value)
    return out


# --- 6. spatial cutout ----------------------------------------------------------------------------
def spatial_cutout(
    x: np.ndarray,
    rng: np.random.Generator,
    size: float | Sequence[float] = (0.2, 0.4),
    value: float = float("nan"),
) -> np.ndarray:
    """Blank the points inside one random square box of the image, in every frame.

    The side ``a ~ U(size)`` is a fraction of the unit image; the box ``[x0, x0 + a) x
    [y0, y0 + a)`` lies inside the unit square (``x0, y0 ~ U(0, 1 - a)``). All coordinates of a
    point inside it are set to ``value``. Undetected (NaN) points are never inside.
    """
    arr = check_sequence(x)
    bounds = _check_fraction_range(size, "size")
    side = float(_uniform(rng, bounds))
    x0, y0 = _uniform(rng, (0.0, 1.0 - side), size=2)
    return blank_box(arr, float(x0), float(y0), side, value)


def blank_box(
    x: np.ndarray, x0: float, y0: float, side: float, value: float = float("nan")
) -> np.ndarray:
    """Set every coordinate of the points with ``x0 <= x < x0 + side`` and ``y0 <= y < y0 + side``
    to ``value``, in every frame (the deterministic core of ``spatial_cutout``)."""
    arr = check_sequence(x)
    if not side >= 0.0:
        raise ValueError(f"side: expected a non-negative box side, got {side!r}")
    px, py = arr[..., 0], arr[..., 1]
    inside = (px >= x0) & (px < x0 + side) & (py >= y0) & (py < y0 + side)
    out = arr.copy()
    out[inside] = np.float32(value)
    return out


# --- the pipeline -------------------------------------------------------------------------------
def augment(x: np.ndarray, rng: np.random.Generator, settings: AugmentSettings) -> np.ndarray:
    """The six steps on one sequence, in the recipe's order, each with its probability.

    One uniform draw per optional step, always taken, so that a step's decision does not shift
    the random stream of the steps after it. The output always has at least one frame.
    """
    arr = check_sequence(x)
    s = settings
    if not s.enabled:
        return arr[: s.max_len].copy()
    if rng.random() < s.resample_p:
        arr = temporal_resample(arr, rng, s.resample_scale)
    if rng.random() < s.flip_p:
        arr = horizontal_flip(arr)
    if s.max_len is not None:
        arr = random_crop(arr, rng, s.max_len)
    if rng.random() < s.affine_p:
        arr = random_affine(
            arr,
            rng,
            scale=s.affine_scale,
            shear=s.affine_shear,
            rotate_deg=s.affine_rotate_deg,
            shift=s.affine_shift,
        )
    if rng.random() < s.temporal_mask_p:
        arr = temporal_mask(arr, rng, s.temporal_mask_size, s.mask_value)
    if rng.random() < s.cutout_p:
        arr = spatial_cutout(arr, rng, s.cutout_size, s.mask_value)
    return arr.copy() if arr is x else arr


@functools.cache
def _preset(name: str) -> dict[str, Any]:
    cfg = OmegaConf.to_container(group_config("augment", name, ["data.max_len=64"]), resolve=True)
    assert isinstance(cfg, dict)
    cfg.pop("_target_")
    return cfg


def recipe(preset: str = "default", **changes: Any) -> dict[str, Any]:
    """The settings of ``conf/augment/<preset>.yaml`` (``max_len`` 64 unless changed), as the
    keywords of ``AugmentSettings`` / ``BatchAugmentation``, with ``changes`` applied."""
    return {**_preset(preset), **changes}


def settings_of(preset: str = "default", **changes: Any) -> AugmentSettings:
    """``AugmentSettings(**recipe(preset, **changes))``."""
    return AugmentSettings(**recipe(preset, **changes))
