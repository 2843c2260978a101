"""Dense over the channels of every frame, lowered as one 2-D matrix product."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="islr")
class FrameDense(keras.layers.Dense):
    """``keras.layers.Dense`` for ``[B, T, C]`` sequences, computed as ``[B*T, C] @ kernel``.

    Same weights, arguments, masking and results as ``Dense``. The difference is the graph:
    on rank-3 inputs Keras' TensorFlow backend contracts with ``tensordot``, whose reshapes are
    computed from the dynamic frame count at run time. In an exported TFLite model those shape
    ops split the network into dozens of XNNPACK partitions. Flattening to 2-D with a ``-1``
    frame axis gives one ``FULLY_CONNECTED`` op between constant-shape reshapes instead (about
    150 fewer TFLite ops in the reference model).
    """

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        if len(inputs.shape) != 3:
            return super().call(inputs, training=training)
        batch = ops.shape(inputs)[0]
        flat = ops.reshape(inputs, (-1, inputs.shape[-1]))
        out = super().call(flat, training=training)
        return ops.reshape(out, (batch, -1, self.units))
