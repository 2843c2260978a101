"""NumPy convenience wrapper: one sequence of frames in, its ``[T', 708]`` features out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from islr.features.landmark_features import LandmarkFeatures
from islr.features.select_landmarks import SelectLandmarks
from islr.landmarks import N_LANDMARKS, N_POINTS, PAD_VALUE

# The layers are stateless: build one pipeline per max_len and reuse it.
_PIPELINES: dict[int | None, Callable[[np.ndarray], Any]] = {}
_MIN_BUCKET = 16


def _pipeline(max_len: int | None) -> Callable[[np.ndarray], Any]:
    if max_len not in _PIPELINES:
        select = SelectLandmarks()
        features = LandmarkFeatures(max_len=max_len, pad_value=PAD_VALUE)

        def run(x: Any) -> Any:
            if x.shape[2] == N_LANDMARKS:
                x = select(x)
            return features(x)

        if keras.backend.backend() == "jax":
            import jax

            # Eager JAX compiles every primitive per shape (seconds per call); one jitted
            # graph per padded length bucket is far cheaper.
            run = jax.jit(run)
        _PIPELINES[max_len] = run
    return _PIPELINES[max_len]


def _bucket(t: int) -> int:
    """Padded length for JAX: the next power of two, so few distinct shapes get compiled."""
    return max(_MIN_BUCKET, 1 << (t - 1).bit_length())


def extract_features(frames: np.ndarray, *, max_len: int | None) -> np.ndarray:
    """Compute the 708 recipe features of one unpadded sequence.

    Args:
        frames: ``[T, 543, 3]`` raw MediaPipe frames or ``[T, 118, 3]`` already-selected points
            (NaN where undetected), ``T >= 1``.
        max_len: frames kept (``None``: all).

    Returns:
        float32 array ``[min(T, max_len), 708]`` produced by :class:`LandmarkFeatures`.

    Raises:
        ValueError: if ``frames`` is not a numeric ``[T, 543 | 118, 3]`` array with ``T >= 1``.
    """
    arr = np.asarray(frames)
    if arr.dtype.kind not in "fiu":
        raise ValueError(f"extract_features: frames must be numeric, got dtype {arr.dtype}")
    if arr.ndim != 3 or arr.shape[-1] != 3 or arr.shape[1] not in (N_LANDMARKS, N_POINTS):
        raise ValueError(
            f"extract_features: frames must have shape [T, {N_LANDMARKS}, 3] (raw) or "
            f"[T, {N_POINTS}, 3] (selected), got {arr.shape}"
        )
    t = arr.shape[0]
    if t == 0:
        raise ValueError("extract_features: frames has zero frames (T == 0)")
    if max_len is not None and (isinstance(max_len, bool) or int(max_len) != max_len):
        raise ValueError(f"extract_features: max_len must be an int or None, got {max_len!r}")
    if max_len is not None and max_len < 1:
        raise ValueError(f"extract_features: max_len must be >= 1 or None, got {max_len}")
    x = arr.astype(np.float32, copy=False)[None]
    if keras.backend.backend() == "jax":
        # End padding is excluded from every statistic, so padding to a bucket is exact
        # up to float32 summation order.
        padded = np.full((1, _bucket(t), *x.shape[2:]), PAD_VALUE, dtype=np.float32)
        padded[:, :t] = x
        x = padded
    out = keras.ops.convert_to_numpy(_pipeline(max_len)(x))[0]
    kept = t if max_len is None else min(t, max_len)
    return np.asarray(out[:kept], dtype=np.float32)
