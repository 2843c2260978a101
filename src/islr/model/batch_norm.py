"""BatchNormalization whose training statistics cover the global batch on every replica."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from islr.replicas import replica_group, sum_over_replicas


# The class keeps Keras' name: a functional model stores a layer's weights under its
# snake-cased class name ("batch_normalization"), so a weight file written by a network built
# with Keras' own layer loads into one built with this layer, and back.
@keras.saving.register_keras_serializable(package="islr")
class BatchNormalization(keras.layers.BatchNormalization):
    """``keras.layers.BatchNormalization`` with masked statistics summed over replicas.

    Under ``tf.distribute`` (``trainer.distribution=data_parallel`` on TensorFlow) each
    replica sees only its rows of the batch; this layer sums the masked per-channel count and
    sums over all replicas (:func:`islr.replicas.sum_over_replicas`) before dividing, so
    the mean, the variance and the moving statistics are those of one device fed the whole
    batch. Keras' own ``synchronized=True`` does not help here: it is ignored when a mask is
    given (every BatchNorm in this model is masked) and refused outside TensorFlow.

    Anywhere else (one device, JAX -- whose ``DataParallel`` step already sees the global
    batch --, inference, TFLite export) it is Keras' layer unchanged, with the same
    arguments, config and weights, so a network saved from a TF multi-replica run loads and
    predicts on any backend.
    """

    def call(self, inputs: Any, training: bool | None = None, mask: Any | None = None) -> Any:
        if not (training and self.trainable) or replica_group() is None:
            return super().call(inputs, training=training, mask=mask)
        if self.renorm:
            raise NotImplementedError("islr BatchNormalization: renorm over replicas")
        x = ops.cast(inputs, keras.backend.result_type(inputs.dtype, "float32"))
        mean, variance = self._global_moments(x, mask)
        momentum = self.momentum
        self.moving_mean.assign(
            ops.cast(self.moving_mean, x.dtype) * momentum + mean * (1.0 - momentum)
        )
        self.moving_variance.assign(
            ops.cast(self.moving_variance, x.dtype) * momentum + variance * (1.0 - momentum)
        )
        outputs = ops.batch_normalization(
            x,
            mean=mean,
            variance=variance,
            axis=self.axis,
            offset=ops.cast(self.beta, x.dtype) if self.center else None,
            scale=ops.cast(self.gamma, x.dtype) if self.scale else None,
            epsilon=self.epsilon,
        )
        return ops.cast(outputs, self.compute_dtype)

    def _global_moments(self, x: Any, mask: Any | None) -> tuple[Any, Any]:
        """Per-channel mean and variance over the rows of every replica (frames in ``mask``).

        The same formulas as Keras' layer on one device: with a mask ``sum / (count + eps)``
        of the masked values and then of their squared deviations from that mean; without
        one, plain means. Two all-reduces (sums, then squared deviations) keep the variance
        as exact as one device's, unlike ``E[x^2] - E[x]^2``.
        """
        axis = self.axis % len(x.shape)
        axes = [a for a in range(len(x.shape)) if a != axis]
        if mask is None:
            weights = ops.ones_like(x)
            eps = 0.0
        else:
            weights = ops.cast(ops.broadcast_to(ops.expand_dims(mask, -1), ops.shape(x)), x.dtype)
            eps = keras.config.epsilon()
        total, count = sum_over_replicas([ops.sum(x * weights, axes), ops.sum(weights, axes)])
        denominator = count + eps
        mean = total / denominator
        shape = [1] * len(x.shape)
        shape[axis] = -1
        deviation = (x - ops.reshape(mean, shape)) * weights
        squares = sum_over_replicas(ops.sum(ops.square(deviation), axes))
        return mean, squares / denominator
