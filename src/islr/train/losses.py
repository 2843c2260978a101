"""Training loss: sparse categorical cross-entropy with label smoothing.

Keras 3's ``SparseCategoricalCrossentropy`` has no ``label_smoothing`` argument and
``CategoricalCrossentropy`` wants one-hot targets, so this loss takes integer class ids, expands
them to one-hot inside the graph and uses Keras' categorical cross-entropy with smoothing.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

__all__ = ["SparseCategoricalCrossentropyWithSmoothing"]


@keras.saving.register_keras_serializable(package="islr")
class SparseCategoricalCrossentropyWithSmoothing(keras.losses.Loss):
    """Cross-entropy on integer labels with label smoothing.

    The smoothed target puts ``1 - label_smoothing + label_smoothing / C`` on the true class and
    ``label_smoothing / C`` elsewhere (``C`` = number of classes, the last axis of the
    predictions). The computation is always float32 (``dtype`` defaults to ``"float32"``), so
    bf16/fp16 logits from a mixed-precision model are upcast first.

    Args:
        label_smoothing: in [0, 1).
        from_logits: whether predictions are logits (True) or probabilities.
        reduction: Keras loss reduction.
        name: loss name.
        dtype: computation dtype (default float32, whatever the global policy).
    """

    def __init__(
        self,
        label_smoothing: float = 0.1,
        from_logits: bool = True,
        reduction: str = "sum_over_batch_size",
        name: str = "sparse_categorical_crossentropy_with_smoothing",
        dtype: Any = "float32",
    ) -> None:
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(
                f"SparseCategoricalCrossentropyWithSmoothing: label_smoothing must be in [0, 1), "
                f"got {label_smoothing}"
            )
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.label_smoothing = float(label_smoothing)
        self.from_logits = bool(from_logits)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        """Per-sample loss, shape ``[B]``; ``y_true`` is ``[B]`` or ``[B, 1]`` class ids."""
        y_pred = ops.cast(y_pred, "float32")
        num_classes = y_pred.shape[-1]
        if num_classes is None:
            raise ValueError(
                "SparseCategoricalCrossentropyWithSmoothing: the class axis of y_pred must have "
                "a static size"
            )
        labels = ops.cast(ops.reshape(y_true, (-1,)), "int32")
        one_hot = ops.one_hot(labels, num_classes, dtype="float32")
        return keras.losses.categorical_crossentropy(
            one_hot,
            y_pred,
            from_logits=self.from_logits,
            label_smoothing=self.label_smoothing,
        )

    def get_config(self) -> dict[str, Any]:
        """Return every constructor argument."""
        return {
            "label_smoothing": self.label_smoothing,
            "from_logits": self.from_logits,
            "reduction": self.reduction,
            "name": self.name,
            "dtype": self.dtype,
        }
