"""islr.model: the reference Conv1D/Transformer+ECA classifier as Keras 3 layers (keras.ops only).

Builders:

- :func:`build_sign_model`: ``[B, T, 118, 3]`` landmarks -> ``[B, num_classes]`` logits
  (THE model; Hydra target of ``conf/model/*.yaml``).
- :func:`build_classifier`: ``[B, T, 708]`` features -> logits.

:func:`transfer_weights` starts a network from a trained one (fine-tuning, ``model.init_from``).

Layers (all mask-aware; padded frames at the end of time never influence real ones):
:class:`ECA`, :class:`CausalDepthwiseConv1D`, :class:`DropPath`, :class:`Conv1DBlock`,
:class:`MultiHeadSelfAttention`, :class:`TransformerBlock`, :class:`LateDropout`,
:class:`MaskedGlobalAveragePooling1D`; :class:`FrameDense` (``Dense`` over frames, lowered as one
2-D matmul so exported models keep static shapes); :class:`BatchNormalization` (Keras' layer,
with statistics over every replica under ``tf.distribute``, see :mod:`islr.replicas`).
"""

from islr.model.attention import MultiHeadSelfAttention
from islr.model.batch_norm import BatchNormalization
from islr.model.causal_conv import CausalDepthwiseConv1D
from islr.model.classifier import apply_classifier, build_classifier
from islr.model.conv_block import Conv1DBlock
from islr.model.drop_path import DropPath
from islr.model.eca import ECA, adaptive_eca_kernel_size
from islr.model.frame_dense import FrameDense
from islr.model.late_dropout import LateDropout
from islr.model.masking import masked_mean_over_time
from islr.model.pooling import MaskedGlobalAveragePooling1D
from islr.model.saved import check_network_file, load_network_file
from islr.model.sign_model import build_sign_model
from islr.model.transfer import BackboneMismatchError, WeightTransfer, transfer_weights
from islr.model.transformer_block import TransformerBlock

__all__ = [
    "ECA",
    "BackboneMismatchError",
    "BatchNormalization",
    "CausalDepthwiseConv1D",
    "Conv1DBlock",
    "DropPath",
    "FrameDense",
    "LateDropout",
    "MaskedGlobalAveragePooling1D",
    "MultiHeadSelfAttention",
    "TransformerBlock",
    "WeightTransfer",
    "adaptive_eca_kernel_size",
    "apply_classifier",
    "build_classifier",
    "build_sign_model",
    "check_network_file",
    "load_network_file",
    "masked_mean_over_time",
    "transfer_weights",
]
