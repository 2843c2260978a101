"""Dropout that switches on only after a given number of training steps."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from islr.replicas import global_batch_dropout


@keras.saving.register_keras_serializable(package="islr")
class LateDropout(keras.layers.Layer):
    """Plain dropout that is the identity until ``start_step`` training calls have happened.

    The layer counts its own training calls in a non-trainable int32 weight ``step`` (incremented
    by one on every call with ``training=True``), so the count is saved with the model and
    survives save/load and resumed training. The count is a variable assignment, which Keras
    threads through JAX's stateless training like BatchNormalization's statistics.
    Dropout is active on a call when the count *before* that call is ``>= start_step``.

    Note: a training step that runs the forward pass twice (e.g. AWP) advances the count twice.

    Args:
        rate: dropout rate in ``[0, 1)``.
        start_step: number of training calls before dropout starts.
        seed: optional seed of the dropout generator.
    """

    def __init__(
        self, rate: float, start_step: int, seed: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        if not 0.0 <= float(rate) < 1.0:
            raise ValueError(f"LateDropout: rate must be in [0, 1), got {rate!r}")
        if isinstance(start_step, bool) or int(start_step) != start_step or start_step < 0:
            raise ValueError(f"LateDropout: start_step must be an int >= 0, got {start_step!r}")
        self.rate = float(rate)
        self.start_step = int(start_step)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        self.step = self.add_weight(
            name="step",
            shape=(),
            dtype="int32",
            initializer="zeros",
            trainable=False,
            # One count for the model, not one per replica.
            aggregation="only_first_replica",
        )
        super().build(input_shape)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        if not training:
            return inputs
        outputs = inputs
        if self.rate > 0.0:
            # Over replicas (tf.distribute) each replica keeps its rows of the global mask.
            dropped = global_batch_dropout(inputs, self.rate, self.seed_generator)
            # Both branches are computed and selected: graph/jit friendly, no Python branching
            # on a tensor.
            outputs = ops.where(ops.greater_equal(self.step, self.start_step), dropped, inputs)
        self.step.assign_add(ops.cast(1, "int32"))
        return outputs

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"rate": self.rate, "start_step": self.start_step, "seed": self.seed})
        return config
