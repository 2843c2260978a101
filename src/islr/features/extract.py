"""NumPy convenience wrapper: one sequence of frames in, its ``[T', 708]`` features out."""

from __future__ import annotations

import numpy as np
from keras import ops

from islr.features.landmark_features import LandmarkFeatures
from islr.features.select_landmarks import SelectLandmarks
from islr.landmarks import MAX_LEN, N_LANDMARKS, N_POINTS, PAD_VALUE

# Layers are stateless; cache them so repeated calls do not rebuild Keras objects.
_FEATURE_LAYERS: dict[int | None, LandmarkFeatures] = {}
_SELECT: list[SelectLandmarks] = []


def _feature_layer(max_len: int | None) -> LandmarkFeatures:
    if max_len not in _FEATURE_LAYERS:
        _FEATURE_LAYERS[max_len] = LandmarkFeatures(max_len=max_len, pad_value=PAD_VALUE)
    return _FEATURE_LAYERS[max_len]


def extract_features(frames: np.ndarray, max_len: int | None = MAX_LEN) -> np.ndarray:
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
    if arr.shape[0] == 0:
        raise ValueError("extract_features: frames has zero frames (T == 0)")
    if max_len is not None and max_len < 1:
        raise ValueError(f"extract_features: max_len must be >= 1 or None, got {max_len}")
    x = arr.astype(np.float32, copy=False)[None]
    if x.shape[2] == N_LANDMARKS:
        if not _SELECT:
            _SELECT.append(SelectLandmarks())
        x = _SELECT[0](x)
    out = _feature_layer(max_len)(x)
    return np.asarray(ops.convert_to_numpy(out)[0], dtype=np.float32)
