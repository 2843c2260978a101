"""Small Keras layers that wrap trained networks into the raw-frame inference graph."""

from islr.export.layers.add_batch_axis import AddBatchAxis
from islr.export.layers.drop_mask import DropMask
from islr.export.layers.ensemble_head import EnsembleHead
from islr.export.layers.leading_frames import LeadingFrames

__all__ = ["AddBatchAxis", "DropMask", "EnsembleHead", "LeadingFrames"]
