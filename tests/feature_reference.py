"""Plain-NumPy oracle for the 708 features, written from the recipe text (§2), for tests only.

Deliberately naive (float64, np.nan* functions, explicit loops over time) so that it shares no
code or tricks with the Keras layer it checks.
"""

from __future__ import annotations

import warnings

import numpy as np

from islr.landmarks import POINT_INDICES, REFERENCE_LANDMARK


def reference_features(frames: np.ndarray, max_len: int | None = 384) -> np.ndarray:
    """Recipe §2 for one unpadded sequence ``[T, 543, 3]`` or ``[T, 118, 3]`` -> ``[T', 708]``."""
    frames = np.asarray(frames, dtype=np.float64)
    if frames.shape[1] == 543:
        ref_raw = frames[:, REFERENCE_LANDMARK, :]
        pts = frames[:, list(POINT_INDICES), :]
    else:
        pts = frames
        ref_raw = frames[:, list(POINT_INDICES).index(REFERENCE_LANDMARK), :]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # nanmean of all-NaN slices
        ref = np.nanmean(ref_raw, axis=0)  # [3]
        ref = np.where(np.isnan(ref), 0.5, ref)
        std = np.sqrt(np.nanmean((pts - ref) ** 2, axis=(0, 1)))  # [3]
        p = (pts - ref) / std
    if max_len is not None:
        p = p[:max_len]
    p = p[..., :2]
    n = p.shape[0]
    dx = np.zeros_like(p)
    dx2 = np.zeros_like(p)
    for t in range(n):
        if t + 1 < n:
            dx[t] = p[t + 1] - p[t]
        if t + 2 < n:
            dx2[t] = p[t + 2] - p[t]
    out = np.concatenate([p.reshape(n, -1), dx.reshape(n, -1), dx2.reshape(n, -1)], axis=1)
    out[np.isnan(out)] = 0.0
    return out
