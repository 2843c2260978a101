"""Lookahead (Zhang et al., 2019) as a wrapper around any Keras optimizer; its slow weights
are optimizer variables, so they are saved and restored with the optimizer."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

__all__ = ["Lookahead"]


@keras.saving.register_keras_serializable(package="islr")
class Lookahead(keras.optimizers.Optimizer):
    """Lookahead wrapper around any Keras optimizer.

    The wrapped ("fast") optimizer updates the model weights every step. Every ``sync_period``
    steps of the inner optimizer the slow weights move towards the fast ones,
    ``slow += slow_step_size * (fast - slow)``, and the fast weights are reset to the new slow
    weights. The slow weights are variables of this optimizer, so ``model.save_weights`` /
    ``load_weights`` and checkpoints carry them.

    The sync window is counted on the inner optimizer's ``iterations`` (which drive its learning
    rate schedule too). At the first step of each window the slow weights are (re)set to the
    current weights: after a sync the two are equal anyway, and this makes weights that were
    loaded after ``build`` (but before training) the starting slow weights.

    Args:
        inner_optimizer: the optimizer taking the fast steps.
        sync_period: ``k``, steps between synchronisations (>= 1).
        slow_step_size: ``alpha`` in (0, 1].
        name: optimizer name.
    """

    def __init__(
        self,
        inner_optimizer: keras.optimizers.Optimizer,
        sync_period: int = 5,
        slow_step_size: float = 0.5,
        name: str = "lookahead",
        **kwargs: Any,
    ) -> None:
        if not isinstance(inner_optimizer, keras.optimizers.Optimizer):
            raise TypeError(
                "Lookahead: inner_optimizer must be a keras.optimizers.Optimizer, got "
                f"{type(inner_optimizer).__name__}"
            )
        if int(sync_period) != sync_period or sync_period < 1:
            raise ValueError(f"Lookahead: sync_period must be an integer >= 1, got {sync_period}")
        if not 0.0 < slow_step_size <= 1.0:
            raise ValueError(f"Lookahead: slow_step_size must be in (0, 1], got {slow_step_size}")
        # Base-optimizer options (weight decay, clipping, ...) belong to the inner optimizer.
        unsupported = {k: v for k, v in kwargs.items() if v not in (None, False)}
        if unsupported:
            raise ValueError(
                f"Lookahead does not take {sorted(unsupported)}; set them on the inner optimizer"
            )
        super().__init__(learning_rate=0.0, name=name)
        self.inner_optimizer = inner_optimizer
        self.sync_period = int(sync_period)
        self.slow_step_size = float(slow_step_size)

    def build(self, var_list: list) -> None:
        """Build the inner optimizer and create one slow copy per trainable variable."""
        if self.built:
            return
        self.inner_optimizer.build(var_list)
        super().build(var_list)
        # Zeros here; the first step of every sync window copies the current weights in (a
        # copy at build time would also alias the same buffer on JAX, breaking donation).
        self._slow_weights = self.add_optimizer_variables(var_list, "slow")

    @property
    def variables(self) -> list:
        """Own variables (iterations, slow weights) followed by the inner optimizer's."""
        return self._variables + self.inner_optimizer.variables

    @property
    def iterations(self) -> Any:
        """The inner optimizer's step counter (drives its schedule and the sync period)."""
        return self.inner_optimizer.iterations

    @property
    def learning_rate(self) -> Any:
        """The inner optimizer's current learning rate."""
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, learning_rate: Any) -> None:
        # The base constructor sets a placeholder before inner_optimizer exists.
        if "inner_optimizer" not in self.__dict__:
            self._learning_rate = learning_rate
            return
        self.inner_optimizer.learning_rate = learning_rate

    def scale_loss(self, loss: Any) -> Any:
        """Delegate loss scaling to the inner optimizer."""
        return self.inner_optimizer.scale_loss(loss)

    def apply(self, grads: list, trainable_variables: list | None = None) -> None:
        """Take one inner step, then synchronise slow and fast weights every ``k`` steps."""
        if not self.built:
            if trainable_variables is None:
                raise ValueError(
                    "Lookahead: build the optimizer or pass trainable_variables on first apply"
                )
            with keras.name_scope(self.name, caller=self):
                self.build(list(trainable_variables))
        variables = (
            self._trainable_variables if trainable_variables is None else list(trainable_variables)
        )
        slows = [self._slow_weights[self._get_variable_index(v)] for v in variables]
        k = self.sync_period
        window_start = ops.equal(ops.mod(self.inner_optimizer.iterations, k), 0)
        for slow, fast in zip(slows, variables, strict=True):
            slow_value = ops.convert_to_tensor(slow)
            fast_value = ops.cast(ops.convert_to_tensor(fast), slow.dtype)
            self.assign(slow, ops.where(window_start, fast_value, slow_value))
        self.inner_optimizer.apply(grads, trainable_variables)
        sync = ops.equal(ops.mod(self.inner_optimizer.iterations, k), 0)
        alpha = self.slow_step_size
        for slow, fast in zip(slows, variables, strict=True):
            slow_value = ops.convert_to_tensor(slow)
            fast_value = ops.cast(ops.convert_to_tensor(fast), slow.dtype)
            new_slow = slow_value + (fast_value - slow_value) * alpha
            self.assign(slow, ops.where(sync, new_slow, slow_value))
            self.assign(fast, ops.cast(ops.where(sync, new_slow, fast_value), fast.dtype))

    def finalize_variable_values(self, var_list: list) -> None:
        """Delegate (e.g. EMA overwrite) to the inner optimizer."""
        self.inner_optimizer.finalize_variable_values(var_list)

    def get_config(self) -> dict[str, Any]:
        """Return every constructor argument (the inner optimizer serialized)."""
        return {
            "name": self.name,
            "inner_optimizer": keras.saving.serialize_keras_object(self.inner_optimizer),
            "sync_period": self.sync_period,
            "slow_step_size": self.slow_step_size,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: Any = None) -> Lookahead:
        """Rebuild from :meth:`get_config` output."""
        config = dict(config)
        inner = keras.saving.deserialize_keras_object(
            config.pop("inner_optimizer"), custom_objects=custom_objects
        )
        return cls(inner, **config)
