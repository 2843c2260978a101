"""Per-sample stochastic depth (drop path)."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from islr.replicas import global_batch_uniform


@keras.saving.register_keras_serializable(package="islr")
class DropPath(keras.layers.Layer):
    """Drop a residual branch for whole samples during training.

    Each sample's branch is zeroed with probability ``rate`` and otherwise scaled by
    ``1 / (1 - rate)`` (one draw per sample, shared by all time steps and channels).
    Identity at inference or when ``rate == 0``.

    Args:
        rate: drop probability in ``[0, 1)``.
        seed: optional seed of the layer's random generator.
    """

    def __init__(self, rate: float, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not 0.0 <= float(rate) < 1.0:
            raise ValueError(f"DropPath: rate must be in [0, 1), got {rate!r}")
        self.rate = float(rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed) if self.rate > 0 else None
        self.supports_masking = True

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        if not training or self.rate == 0.0:
            return inputs
        batch = ops.shape(inputs)[0]
        draw_shape = (batch,) + (1,) * (len(inputs.shape) - 1)
        keep = 1.0 - self.rate
        # Draw in float32: bf16 would bias the keep probability.
        # Over replicas (tf.distribute) each replica keeps its rows of the global batch's draw.
        u = global_batch_uniform(draw_shape, self.seed_generator, "float32")
        scale = ops.cast(ops.less(u, keep), "float32") / keep
        return inputs * ops.cast(scale, inputs.dtype)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"rate": self.rate, "seed": self.seed})
        return config
