"""Adversarial weight perturbation (AWP) as a Keras model wrapper, for TensorFlow and JAX.

One AWP step on a batch:

1. gradient ``g`` of the (scaled) loss at the current weights ``theta``;
2. per weight tensor ``theta' = theta + awp_lambda * g / (||g|| + awp_epsilon)``
   (``||g||`` is the L2 norm of that tensor's gradient; a zero gradient leaves it unmoved);
3. gradient ``g'`` at ``theta'`` on the same batch;
4. ``theta`` is restored and the optimizer applies ``g'``.

What is kept from the two passes:

* loss, metrics and every non-trainable update (BatchNorm moving statistics, step counters,
  random-generator state) come from the first pass, exactly as a plain step would leave them;
* the second pass starts from the same non-trainable state as the first, so it draws the
  *same* dropout / drop-path masks: the perturbed gradient is that of the same sub-network.

The loss scale (``optimizer.scale_loss``, mixed_float16) is used for both gradients; the
perturbation direction ``g / ||g||`` does not depend on it. Under ``tf.distribute``
(``trainer.distribution=data_parallel`` on TensorFlow) the first gradient is summed over the
replicas before the perturbation, so every replica moves to the ``theta'`` of one device fed the
whole batch; the optimizer sums the second gradient itself. With ``awp_enabled=False`` the
model runs Keras' own ``train_step`` unchanged. Switch AWP on per epoch with
:class:`AWPSchedule`.

Only public Keras APIs are used (``compute_loss``, ``compute_loss_and_updates``,
``compute_metrics``, ``Model.metrics``, ``metrics_variables``, ``keras.StatelessScope``,
``optimizer.stateless_apply``), so a minor Keras release cannot move them from under it.
"""

from __future__ import annotations

import logging
from typing import Any

import keras
from keras import ops

from islr.replicas import sum_over_replicas

logger = logging.getLogger(__name__)

__all__ = ["AWPModel", "AWPSchedule"]

_SUPPORTED_BACKENDS = ("tensorflow", "jax")


def _unscale_loss_for_distribution(loss: Any) -> Any:
    """Per-replica loss -> global mean under a ``tf.distribute`` strategy (as Keras logs it).

    Keras divides the loss by the replica count for the gradients; the logged loss multiplies
    it back. Without a strategy (or on JAX) the loss is returned as is.
    """
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        if replicas > 1:
            loss = ops.multiply(loss, ops.cast(replicas, loss.dtype))
    return loss


def _perturbation(gradient: Any, awp_lambda: float, epsilon: float, dtype: Any) -> Any:
    """``awp_lambda * g / (||g|| + epsilon)`` for one weight tensor, in the weight's dtype."""
    g = ops.cast(gradient, "float32")
    norm = ops.sqrt(ops.sum(ops.square(g)))
    return ops.cast(g * (awp_lambda / (norm + epsilon)), dtype)


@keras.saving.register_keras_serializable(package="islr")
class AWPModel(keras.Model):
    """Wrap ``network`` so that ``fit`` can train it with adversarial weight perturbation.

    ``call`` delegates to ``network``; save ``model.network`` to keep only the network.
    ``awp_enabled`` is read when the train function is traced, so change it through
    :meth:`set_awp_enabled` (or :class:`AWPSchedule`), which rebuilds the train function.

    Args:
        network: the Keras model/layer to train.
        awp_lambda: perturbation size per weight tensor (L2 norm of the step), >= 0.
        awp_epsilon: added to the gradient norm before dividing.
        awp_enabled: start with AWP on (usually False; :class:`AWPSchedule` turns it on).
        **kwargs: ``keras.Model`` arguments (``name``, ...).
    """

    def __init__(
        self,
        network: keras.layers.Layer,
        awp_lambda: float = 0.2,
        awp_epsilon: float = 1e-12,
        awp_enabled: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not isinstance(network, keras.layers.Layer):
            raise TypeError(
                f"AWPModel: network must be a keras Layer/Model, got {type(network).__name__}"
            )
        if not awp_lambda >= 0:
            raise ValueError(f"AWPModel: awp_lambda must be >= 0, got {awp_lambda}")
        if not awp_epsilon > 0:
            raise ValueError(f"AWPModel: awp_epsilon must be > 0, got {awp_epsilon}")
        self.network = network
        self.awp_lambda = float(awp_lambda)
        self.awp_epsilon = float(awp_epsilon)
        self.awp_enabled = bool(awp_enabled)
        # A wrapper around a built network is built too: load_weights (resume) works before any
        # call, as it does for a functional model.
        if getattr(network, "built", False):
            self.built = True

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        """Run the wrapped network."""
        return self.network(inputs, training=training)

    def set_awp_enabled(self, enabled: bool) -> bool:
        """Switch AWP on/off; rebuild the train function if it changed. Returns True if so."""
        enabled = bool(enabled)
        if enabled == self.awp_enabled:
            return False
        self.awp_enabled = enabled
        # The flag is a Python-level branch baked into the traced step: drop the compiled one.
        if self.train_function is not None:
            self.make_train_function(force=True)
        logger.info("AWP %s (lambda=%g)", "enabled" if enabled else "disabled", self.awp_lambda)
        return True

    # ------------------------------------------------------------------ train steps
    def train_step(self, *args: Any) -> Any:
        """Keras' default step when AWP is off, the AWP step otherwise (TF or JAX)."""
        backend = keras.backend.backend()
        if backend not in _SUPPORTED_BACKENDS:
            raise NotImplementedError(
                f"AWPModel supports the {_SUPPORTED_BACKENDS} backends, not {backend!r}"
            )
        if not self.awp_enabled:
            return super().train_step(*args)
        if backend == "jax":
            return self._jax_awp_train_step(*args)
        return self._tf_awp_train_step(*args)

    def _tf_awp_train_step(self, data: Any) -> Any:
        # TensorFlow is only imported on the TensorFlow backend (already loaded by Keras then):
        # a gradient tape is the one thing keras.ops does not offer.
        import tensorflow as tf

        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        trainable = self.trainable_variables
        if not trainable:
            return super().train_step(data)
        non_trainable = self.non_trainable_variables
        state_before = [tf.identity(v.value) for v in non_trainable]

        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(
                x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True
            )
            self._loss_metric().update_state(
                _unscale_loss_for_distribution(loss),
                sample_weight=ops.shape(_first_input(x))[0],
            )
            if self.optimizer is not None:
                loss = self.optimizer.scale_loss(loss)
        grads = tape.gradient(loss, trainable)
        # Under tf.distribute each replica's gradient covers its own rows (the loss is already
        # divided by the replica count, as in Keras' step); the perturbation must follow the
        # global batch's gradient, their sum, as on one device.
        present = [i for i, g in enumerate(grads) if g is not None]
        for i, g in zip(present, sum_over_replicas([grads[i] for i in present]), strict=True):
            grads[i] = g

        state_after = [tf.identity(v.value) for v in non_trainable]
        for var, value in zip(non_trainable, state_before, strict=True):
            var.assign(value)
        # Restore from a copy rather than subtracting the step, so theta comes back bit-exact.
        backup = [tf.identity(v.value) for v in trainable]
        for var, grad in zip(trainable, grads, strict=True):
            if grad is not None:
                var.assign_add(_perturbation(grad, self.awp_lambda, self.awp_epsilon, var.dtype))

        with tf.GradientTape() as tape:
            y_pred_adv = self(x, training=True)
            loss_adv = self.compute_loss(
                x=x, y=y, y_pred=y_pred_adv, sample_weight=sample_weight, training=True
            )
            if self.optimizer is not None:
                loss_adv = self.optimizer.scale_loss(loss_adv)
        grads_adv = tape.gradient(loss_adv, trainable)

        for var, value in zip(trainable, backup, strict=True):
            var.assign(value)
        for var, value in zip(non_trainable, state_after, strict=True):
            var.assign(value)
        self.optimizer.apply_gradients(zip(grads_adv, trainable, strict=True))
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def _loss_metric(self) -> keras.metrics.Metric:
        """The compiled loss tracker: the ``Mean`` that ``Model.metrics`` lists as "loss"."""
        for metric in self.metrics:
            if metric.name == "loss":
                return metric
        raise RuntimeError("AWPModel: compile the model with a loss before training it")

    def _stateless_metrics(
        self, metrics_vars: Any, loss: Any, x: Any, y: Any, y_pred: Any, sample_weight: Any
    ) -> tuple[dict[str, Any], list[Any]]:
        """Loss and compiled metrics updated on ``metrics_vars`` without touching the model's
        variables (JAX): the logs and the new metric variable values."""
        mapping = list(zip(self.metrics_variables, metrics_vars, strict=True))
        with keras.StatelessScope(state_mapping=mapping) as scope:
            self._loss_metric().update_state(loss, sample_weight=ops.shape(_first_input(x))[0])
            logs = self.compute_metrics(x, y, y_pred, sample_weight)
        new_vars = []
        for ref in self.metrics_variables:
            value = scope.get_current_value(ref)
            new_vars.append(ref.value if value is None else value)
        return logs, new_vars

    def _jax_awp_train_step(self, state: Any, data: Any) -> Any:
        import jax

        trainable, non_trainable, optimizer_vars, metrics_vars = state
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        grad_fn = jax.value_and_grad(self.compute_loss_and_updates, has_aux=True)
        (_, aux), grads = grad_fn(
            trainable,
            non_trainable,
            metrics_vars,
            x,
            y,
            sample_weight,
            training=True,
            optimizer_variables=optimizer_vars,
        )
        unscaled_loss, y_pred, new_non_trainable, new_metrics_vars = aux

        perturbed = [
            t + _perturbation(g, self.awp_lambda, self.awp_epsilon, t.dtype)
            for t, g in zip(trainable, grads, strict=True)
        ]
        # Same input non-trainable state as the first pass (same dropout masks); its own
        # non-trainable and metric updates are discarded.
        _, grads_adv = grad_fn(
            perturbed,
            non_trainable,
            metrics_vars,
            x,
            y,
            sample_weight,
            training=True,
            optimizer_variables=optimizer_vars,
        )
        new_trainable, new_optimizer_vars = self.optimizer.stateless_apply(
            optimizer_vars, grads_adv, trainable
        )
        logs, new_metrics_vars = self._stateless_metrics(
            new_metrics_vars, unscaled_loss, x, y, y_pred, sample_weight
        )
        return logs, (new_trainable, new_non_trainable, new_optimizer_vars, new_metrics_vars)

    # ------------------------------------------------------------------ serialization
    def get_config(self) -> dict[str, Any]:
        """Return every constructor argument (the network serialized)."""
        config = super().get_config()
        config.update(
            {
                "network": keras.saving.serialize_keras_object(self.network),
                "awp_lambda": self.awp_lambda,
                "awp_epsilon": self.awp_epsilon,
                "awp_enabled": self.awp_enabled,
            }
        )
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: Any = None) -> AWPModel:
        """Rebuild from :meth:`get_config` output."""
        config = dict(config)
        network = keras.saving.deserialize_keras_object(
            config.pop("network"), custom_objects=custom_objects
        )
        return cls(network, **config)


def _first_input(x: Any) -> Any:
    return next(i for i in keras.tree.flatten(x) if i is not None)


class AWPSchedule(keras.callbacks.Callback):
    """Turn AWP on from ``start_epoch`` (0-based, like Keras epochs) onwards.

    At every epoch begin the model's flag is set to ``epoch >= start_epoch`` and, when it
    changes, the train function is rebuilt. Works when ``fit`` resumes at ``initial_epoch``.

    Args:
        start_epoch: first epoch trained with AWP (>= 0).
    """

    def __init__(self, start_epoch: int = 15) -> None:
        super().__init__()
        if int(start_epoch) != start_epoch or start_epoch < 0:
            raise ValueError(f"AWPSchedule: start_epoch must be an integer >= 0, got {start_epoch}")
        self.start_epoch = int(start_epoch)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        """Set ``model.awp_enabled`` for this epoch."""
        model = self.model
        if not isinstance(model, AWPModel):
            raise TypeError(
                f"AWPSchedule needs an AWPModel, got {type(model).__name__}; wrap the network "
                "with AWPModel(network, awp_lambda=...)"
            )
        model.set_awp_enabled(epoch >= self.start_epoch)

    def get_config(self) -> dict[str, Any]:
        """Return every constructor argument."""
        return {"start_epoch": self.start_epoch}
