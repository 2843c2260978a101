"""Optimizers and learning-rate schedule for islr training.

* :class:`RAdam` -- Rectified Adam (Liu et al., 2019, "On the Variance of the Adaptive Learning
  Rate and Beyond") on Keras 3's optimizer API (backend-agnostic, decoupled weight decay through
  Keras' own ``weight_decay`` mechanism).
* :class:`Lookahead` -- Lookahead (Zhang et al., 2019) as a wrapper around any Keras optimizer;
  its slow weights are optimizer variables, so they are saved and restored with the optimizer.
* :func:`cosine_schedule` -- cosine decay from a peak to a floor with optional linear warm-up
  (Keras' ``CosineDecay``).
* :func:`build_optimizer` -- the single entry point used by the trainer and the Hydra configs.

One concept per module (``radam``, ``lookahead``, ``schedule``, ``factory``); every name is
importable from here, where the Hydra configs and the trainer look for it.

Weight-decay convention: Keras applies decoupled weight decay as
``w <- w - w * weight_decay * lr`` before each update (``BaseOptimizer._apply_weight_decay``), so
``weight_decay=0.1`` means "decay by 0.1 x the current learning rate", the reference recipe's
setting (TensorFlow Addons' RectifiedAdam did the same: ``var -= lr * (update + wd * var)``).
"""

from islr.train.optimizers.factory import OPTIMIZER_NAMES, build_optimizer
from islr.train.optimizers.lookahead import Lookahead
from islr.train.optimizers.radam import RAdam
from islr.train.optimizers.schedule import cosine_schedule

__all__ = ["OPTIMIZER_NAMES", "Lookahead", "RAdam", "build_optimizer", "cosine_schedule"]
