"""islr.augment: augmentations of raw landmark sequences (``[T, 118, 3]``) for training.

``Augmenter`` is the configurable numpy pipeline for one sequence (``conf/augment/*.yaml``); the
individual, seeded augmentations live in ``islr.augment.ops``; ``islr.augment.preview`` draws
them. ``BatchAugmentation`` (``islr.augment.batched``) applies the same settings to a padded
batch as a Keras layer inside the compiled training step (``augment.on_device=true``); it is
imported on first use, so importing ``islr.augment`` stays free of Keras.
"""

from typing import Any

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
    "BatchAugmentation",
    "blank_box",
    "horizontal_flip",
    "random_affine",
    "random_crop",
    "spatial_cutout",
    "temporal_mask",
    "temporal_resample",
]


def __getattr__(name: str) -> Any:
    if name == "BatchAugmentation":
        from islr.augment.batched import BatchAugmentation

        return BatchAugmentation
    raise AttributeError(f"module 'islr.augment' has no attribute {name!r}")
