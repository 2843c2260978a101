"""Keras layer: average the logits of several networks for one video."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

OUTPUT_KINDS = ("logits", "probabilities")


@keras.saving.register_keras_serializable(package="islr")
class EnsembleHead(keras.layers.Layer):
    """Mean of N logit tensors ``[1, C]`` -> scores ``[C]`` for the single video.

    Logits (not probabilities) are averaged, as in the reference 4-seed ensemble; with
    ``output="probabilities"`` a softmax follows the mean. Averages in float32 under any
    global policy unless a ``dtype`` is requested for it (honoured).

    Args:
        output: ``"logits"`` (what Kaggle scores; argmax is the same either way) or
            ``"probabilities"`` (``export.output``).
        dtype: dtype policy of the layer (``None``: float32, not the global policy).
    """

    def __init__(self, output: str, dtype: Any = None, **kwargs: Any) -> None:
        super().__init__(dtype="float32" if dtype is None else dtype, **kwargs)
        if output not in OUTPUT_KINDS:
            raise ValueError(f"EnsembleHead: output must be one of {OUTPUT_KINDS}, got {output!r}")
        self.output_kind = output

    def call(self, inputs: Any) -> Any:
        logits = list(inputs) if isinstance(inputs, list | tuple) else [inputs]
        logits = [ops.cast(x, self.compute_dtype) for x in logits]
        mean = logits[0] if len(logits) == 1 else ops.mean(ops.stack(logits, axis=0), axis=0)
        if self.output_kind == "probabilities":
            mean = ops.softmax(mean, axis=-1)
        return ops.squeeze(mean, axis=0)

    def compute_output_shape(self, input_shape: Any) -> tuple[int | None, ...]:
        first = input_shape[0] if isinstance(input_shape, list) else input_shape
        return (first[-1],)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"output": self.output_kind})
        return config
