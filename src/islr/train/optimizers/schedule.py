"""The learning-rate schedule: cosine decay from a peak to a floor with optional linear
warm-up (Keras' ``CosineDecay``)."""

from __future__ import annotations

import keras

__all__ = ["cosine_schedule"]


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
