"""Keras layer: pass values through and end the padding mask."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="islr")
class DropMask(keras.layers.Layer):
    """Identity on values; its output carries no mask.

    The inference model puts it where a trained network has its ``Masking`` layer. One video
    has no padded frames, so that mask would be all true; without it every layer takes its
    unmasked path (plain means instead of masked sums, no select on the attention logits),
    which gives the same scores with fewer ops.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.supports_masking = True  # accept a mask silently, then drop it

    def call(self, inputs: Any) -> Any:
        # A new tensor: Keras keeps the mask attached to a tensor that a layer returns as is.
        return ops.copy(inputs)

    def compute_mask(self, inputs: Any, mask: Any | None = None) -> None:
        return None

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        # No constructor arguments of its own.
        return super().get_config()
