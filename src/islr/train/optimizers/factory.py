"""``build_optimizer``: the training optimizer by name, with its schedule (the ``_target_`` of
``conf/optim/*.yaml``, reached as ``islr.train.optimizers.build_optimizer``)."""

from __future__ import annotations

import logging
from typing import Any

import keras

from islr.train.optimizers.lookahead import Lookahead
from islr.train.optimizers.radam import RAdam
from islr.train.optimizers.schedule import cosine_schedule

__all__ = ["OPTIMIZER_NAMES", "build_optimizer"]

# The package's logger: its log lines keep the name they had before the package was split.
logger = logging.getLogger(__package__)

OPTIMIZER_NAMES = ("adamw", "radam_lookahead")

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
