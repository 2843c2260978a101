"""Rectified Adam (Liu et al., 2019, "On the Variance of the Adaptive Learning Rate and
Beyond") on Keras 3's optimizer API: backend-agnostic, with decoupled weight decay through
Keras' own ``weight_decay`` mechanism (see :mod:`islr.train.optimizers`)."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

__all__ = ["RAdam"]


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
