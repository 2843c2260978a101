"""islr.features: the recipe's 708 features as Keras layers (training, export and TFLite).

- :class:`SelectLandmarks`: ``[..., 543, 3] -> [..., 118, 3]``.
- :class:`LandmarkFeatures`: ``[B, T, 118, 3] -> [B, min(T, max_len), 708]`` with padding mask.
- :func:`extract_features`: NumPy wrapper for one sequence.
"""

from islr.features.extract import extract_features
from islr.features.landmark_features import LandmarkFeatures
from islr.features.select_landmarks import SelectLandmarks

__all__ = ["LandmarkFeatures", "SelectLandmarks", "extract_features"]
