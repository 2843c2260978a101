"""islr.augment: the recipe's augmentations of raw landmark sequences, for training.

``AugmentSettings`` holds the six augmentations' settings (``conf/augment/*.yaml`` builds it;
no Keras needed); ``BatchAugmentation`` (``islr.augment.batched``) applies them to a padded
batch as a Keras layer inside the compiled training step; ``islr.augment.preview`` draws what
they do. The layer is imported on first use, so importing ``islr.augment`` stays free of Keras.
"""

from typing import Any

from islr.augment.settings import SETTINGS, AugmentSettings

__all__ = ["SETTINGS", "AugmentSettings", "BatchAugmentation"]


def __getattr__(name: str) -> Any:
    if name == "BatchAugmentation":
        from islr.augment.batched import BatchAugmentation

        return BatchAugmentation
    raise AttributeError(f"module 'islr.augment' has no attribute {name!r}")
