"""Optimizers and learning-rate schedule for islr training.

* :class:`RAdam` -- Rectified Adam (Liu et al., 2019, "On the Variance of the Adaptive Learning
  Rate and Beyond") on Keras 3's optimizer API (backend-agnostic, decoupled weight decay through
  Keras' own ``weight_decay`` mechanism).
* :class:`Lookahead` -- Lookahead (Zhang et al., 2019) as a wrapper around any Keras optimizer;
  its slow weights are optimizer variables, so they are saved and restored with the optimizer.
* :func:`cosine_schedule` -- cosine decay from a peak to a floor with optional linear warm-up
  (Keras' ``CosineDecay``).
* :func:`build_optimizer` -- the single entry point used by the trainer and the Hydra configs.

Weight-decay convention: Keras applies decoupled weight decay as
``w <- w - w * weight_decay * lr`` before each update (``BaseOptimizer._apply_weight_decay``), so
``weight_decay=0.1`` means "decay by 0.1 x the current learning rate", the reference recipe's
setting (TensorFlow Addons' RectifiedAdam did the same: ``var -= lr * (update + wd * var)``).
"""

from __future__ import annotations

import logging
from typing import Any

import keras
from keras import ops

logger = logging.getLogger(__name__)

__all__ = ["OPTIMIZER_NAMES", "Lookahead", "RAdam", "build_optimizer", "cosine_schedule"]

OPTIMIZER_NAMES = ("adamw", "radam_lookahead")


@keras.saving.register_keras_serializable(package="islr")
class RAdam(keras.optimizers.Optimizer):
    """Rectified Adam.

    With ``rho_inf = 2 / (1 - beta_2) - 1`` and, at step ``t`` (1-based),
    ``rho_t = rho_inf - 2 t beta_2^t / (1 - beta_2^t)``:

    * while ``rho_t <= sma_threshold`` the variance estimate is too unreliable, so the step is
      the un-adapted, bias-corrected momentum step ``w -= lr * m_hat``;
    * afterwards ``w -= lr * r_t * m_hat / (sqrt(v_hat) + epsilon)`` with the rectification term
      ``r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))``.

    Args:
        learning_rate: float, schedule or callable.
        beta_1: decay rate of the first moment.
        beta_2: decay rate of the second moment.
        epsilon: added to ``sqrt(v_hat)``.
        sma_threshold: length of the approximated simple moving average above which the adaptive
            (rectified) step is used. The paper uses 4; TensorFlow Addons defaulted to 5.
        **kwargs: base optimizer arguments (``weight_decay``, ``clipnorm``, ``name``, ...).
    """

    def __init__(
        self,
        learning_rate: Any = 1e-3,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        sma_threshold: float = 5.0,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        use_ema: bool = False,
        ema_momentum: float = 0.99,
        ema_overwrite_frequency: int | None = None,
        loss_scale_factor: float | None = None,
        gradient_accumulation_steps: int | None = None,
        name: str = "radam",
        **kwargs: Any,
    ) -> None:
        if not 0.0 <= beta_1 < 1.0 or not 0.0 < beta_2 < 1.0:
            raise ValueError(
                f"RAdam: beta_1 must be in [0, 1) and beta_2 in (0, 1); got {beta_1}, {beta_2}"
            )
        super().__init__(
            learning_rate=learning_rate,
            name=name,
            weight_decay=weight_decay,
            clipnorm=clipnorm,
            clipvalue=clipvalue,
            global_clipnorm=global_clipnorm,
            use_ema=use_ema,
            ema_momentum=ema_momentum,
            ema_overwrite_frequency=ema_overwrite_frequency,
            loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps,
            **kwargs,
        )
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.sma_threshold = sma_threshold

    def build(self, var_list: list) -> None:
        """Create the first and second moment slots."""
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"]
        )

    def update_step(self, gradient: Any, variable: Any, learning_rate: Any) -> None:
        """Apply one RAdam update to ``variable``."""
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        gradient = ops.cast(gradient, dtype)
        # Step bookkeeping in float32 even for low-precision variables: rho_t needs the range.
        t = ops.cast(self.iterations + 1, "float32")
        beta_1 = ops.cast(self.beta_1, "float32")
        beta_2 = ops.cast(self.beta_2, "float32")
        beta_1_power = ops.power(beta_1, t)
        beta_2_power = ops.power(beta_2, t)
        rho_inf = 2.0 / (1.0 - self.beta_2) - 1.0
        rho_t = rho_inf - 2.0 * t * beta_2_power / (1.0 - beta_2_power)
        # Clamp before the square root; the value is only used when rho_t > threshold anyway.
        r_num = ops.maximum((rho_t - 4.0) * (rho_t - 2.0) * rho_inf, 0.0)
        r_den = (rho_inf - 4.0) * (rho_inf - 2.0) * rho_t
        r_t = ops.sqrt(r_num / r_den)
        adaptive = ops.greater(rho_t, ops.cast(self.sma_threshold, "float32"))

        index = self._get_variable_index(variable)
        m = self._momentums[index]
        v = self._velocities[index]
        self.assign_add(m, ops.multiply(ops.subtract(gradient, m), 1.0 - self.beta_1))
        self.assign_add(v, ops.multiply(ops.subtract(ops.square(gradient), v), 1.0 - self.beta_2))

        m_hat = ops.divide(m, ops.cast(1.0 - beta_1_power, dtype))
        v_hat_sqrt = ops.sqrt(ops.divide(v, ops.cast(1.0 - beta_2_power, dtype)))
        adaptive_step = ops.divide(
            ops.multiply(m_hat, ops.cast(r_t, dtype)), ops.add(v_hat_sqrt, self.epsilon)
        )
        step = ops.where(adaptive, adaptive_step, m_hat)
        self.assign_sub(variable, ops.multiply(step, lr))

    def get_config(self) -> dict[str, Any]:
        """Return every constructor argument."""
        config = super().get_config()
        config.update(
            {
                "beta_1": self.beta_1,
                "beta_2": self.beta_2,
                "epsilon": self.epsilon,
                "sma_threshold": self.sma_threshold,
            }
        )
        return config


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


def cosine_schedule(
    learning_rate: float,
    total_steps: int,
    warmup_steps: int = 0,
    min_learning_rate: float = 1e-6,
) -> keras.optimizers.schedules.LearningRateSchedule:
    """Cosine decay from ``learning_rate`` to ``min_learning_rate`` with optional warm-up.

    With ``warmup_steps > 0`` the rate rises linearly from ``min_learning_rate`` to the peak over
    ``warmup_steps`` steps, then decays over the remaining ``total_steps - warmup_steps`` steps;
    after ``total_steps`` it stays at ``min_learning_rate``. Implemented with Keras'
    ``CosineDecay`` (``alpha`` is the floor as a fraction of the peak).
    """
    if not learning_rate > 0:
        raise ValueError(f"cosine_schedule: learning_rate must be > 0, got {learning_rate}")
    if not 0 <= min_learning_rate <= learning_rate:
        raise ValueError(
            f"cosine_schedule: min_learning_rate must be in [0, learning_rate={learning_rate}], "
            f"got {min_learning_rate}"
        )
    if int(total_steps) != total_steps or total_steps < 1:
        raise ValueError(f"cosine_schedule: total_steps must be an integer >= 1, got {total_steps}")
    if int(warmup_steps) != warmup_steps or not 0 <= warmup_steps < total_steps:
        raise ValueError(
            f"cosine_schedule: warmup_steps must be an integer in [0, total_steps={total_steps}), "
            f"got {warmup_steps}"
        )
    alpha = min_learning_rate / learning_rate
    decay_steps = int(total_steps) - int(warmup_steps)
    if warmup_steps == 0:
        return keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=float(learning_rate), decay_steps=decay_steps, alpha=alpha
        )
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=float(min_learning_rate),
        decay_steps=decay_steps,
        alpha=alpha,
        warmup_target=float(learning_rate),
        warmup_steps=int(warmup_steps),
    )


_DEFAULT_WEIGHT_DECAY = {"adamw": 0.05, "radam_lookahead": 0.1}


def build_optimizer(
    name: str = "adamw",
    *,
    learning_rate: float,
    total_steps: int,
    warmup_steps: int = 0,
    min_learning_rate: float = 1e-6,
    weight_decay: float | None = None,
    lookahead_sync_period: int = 5,
    lookahead_alpha: float = 0.5,
    clipnorm: float | None = None,
    exclude_from_weight_decay: list[str] | None = None,
    **kwargs: Any,
) -> keras.optimizers.Optimizer:
    """Build the training optimizer with a cosine learning-rate schedule.

    Args:
        name: ``"adamw"`` (Keras AdamW) or ``"radam_lookahead"`` (RAdam inside Lookahead, the
            reference recipe).
        learning_rate: peak learning rate.
        total_steps: optimizer steps of the whole run (epochs x steps per epoch); the schedule
            reaches ``min_learning_rate`` there.
        warmup_steps: linear warm-up steps (0 = none).
        min_learning_rate: floor of the cosine decay.
        weight_decay: Keras decoupled weight decay (multiplied by the current learning rate);
            ``None`` picks the default for ``name`` (adamw 0.05, radam_lookahead 0.1).
        lookahead_sync_period: Lookahead ``k`` (radam_lookahead only).
        lookahead_alpha: Lookahead slow step size (radam_lookahead only).
        clipnorm: per-tensor gradient-norm clipping (None = off).
        exclude_from_weight_decay: variable-name substrings exempt from weight decay.
        **kwargs: extra arguments for the (inner) optimizer, e.g. ``beta_1``, ``epsilon``,
            ``sma_threshold``.
    """
    if name not in OPTIMIZER_NAMES:
        raise ValueError(f"build_optimizer: unknown name {name!r}; choose one of {OPTIMIZER_NAMES}")
    if weight_decay is None:
        weight_decay = _DEFAULT_WEIGHT_DECAY[name]
    if weight_decay < 0:
        raise ValueError(f"build_optimizer: weight_decay must be >= 0, got {weight_decay}")
    schedule = cosine_schedule(learning_rate, total_steps, warmup_steps, min_learning_rate)
    common = {"learning_rate": schedule, "weight_decay": weight_decay or None, "clipnorm": clipnorm}
    if name == "adamw":
        if weight_decay == 0:
            # Keras AdamW insists on a number; 0.0 decays nothing.
            common["weight_decay"] = 0.0
        optimizer: keras.optimizers.Optimizer = keras.optimizers.AdamW(**common, **kwargs)
    else:
        inner = RAdam(**common, **kwargs)
        optimizer = Lookahead(
            inner, sync_period=lookahead_sync_period, slow_step_size=lookahead_alpha
        )
    if exclude_from_weight_decay:
        target = optimizer.inner_optimizer if isinstance(optimizer, Lookahead) else optimizer
        target.exclude_from_weight_decay(var_names=list(exclude_from_weight_decay))
    logger.info(
        "optimizer %s: peak lr %g -> %g over %d steps (warm-up %d), weight decay %g",
        name,
        learning_rate,
        min_learning_rate,
        total_steps,
        warmup_steps,
        weight_decay,
    )
    return optimizer
