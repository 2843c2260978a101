"""islr.augment: numpy augmentations of raw landmark sequences (``[T, 118, 3]``) for training.

``Augmenter`` is the configurable pipeline (``conf/augment/*.yaml``); the individual, seeded
augmentations live in ``islr.augment.ops``; ``islr.augment.preview`` draws them.
"""

from islr.augment.augmenter import Augmenter
from islr.augment.ops import (
    blank_box,
    horizontal_flip,
    random_affine,
    random_crop,
    spatial_cutout,
    temporal_mask,
    temporal_resample,
)

__all__ = [
    "Augmenter",
    "blank_box",
    "horizontal_flip",
    "random_affine",
    "random_crop",
    "spatial_cutout",
    "temporal_mask",
    "temporal_resample",
]
