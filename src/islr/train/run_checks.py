"""Checks of a training config that would otherwise fail late: each names the option."""

from __future__ import annotations

from typing import Any

import numpy as np
from omegaconf import DictConfig

from islr.errors import ConfigError
from islr.train.init_from import read_init_source

__all__ = ["MODEL_SETTINGS_FROM_TRAINER", "PRECISIONS", "check_config", "parse_fold"]

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
# Model arguments the trainer passes (islr.train.training_model.build_network), so that no model
# config states them.
MODEL_SETTINGS_FROM_TRAINER = {
    "max_len": "data.max_len",
    "num_classes": "the data's sign map",
    "late_dropout_start_step": "trainer.late_dropout_start_epoch",
}


def parse_fold(fold: Any, num_folds: int) -> int | None:
    """``data.fold`` -> an int in ``[0, num_folds)`` or None for ``"all"``.

    Raises:
        ConfigError: not an integer fold in range nor ``all``.
    """
    if isinstance(fold, str):
        if fold.strip().lower() == "all":
            return None
        try:
            fold = int(fold)
        except ValueError:
            raise ConfigError(f"data.fold={fold!r}: expected an integer fold or 'all'") from None
    if fold is None or isinstance(fold, bool) or not isinstance(fold, int | np.integer):
        raise ConfigError(f"data.fold={fold!r}: expected an integer fold or 'all'")
    if not 0 <= int(fold) < num_folds:
        raise ConfigError(
            f"data.fold={fold}: no such fold; the data has {num_folds} folds "
            f"(0..{num_folds - 1}) or use data.fold=all"
        )
    return int(fold)


def check_config(cfg: DictConfig) -> None:
    """Reject settings that would fail later, naming the option (before any data work).

    Raises:
        ConfigError: the first setting that cannot work.
    """
    precision = cfg.trainer.precision
    if precision not in PRECISIONS:
        raise ConfigError(f"trainer.precision={precision!r}: expected one of {PRECISIONS}")
    if cfg.trainer.jit_compile not in (True, False, "auto"):
        raise ConfigError(f"trainer.jit_compile={cfg.trainer.jit_compile!r}: true, false or auto")
    for key in ("epochs", "check_val_every_n_epoch"):
        if int(cfg.trainer[key]) < 1:
            raise ConfigError(f"trainer.{key} must be >= 1, got {cfg.trainer[key]}")
    if int(cfg.data.batch_size) < 1 or int(cfg.data.eval_batch_size) < 1:
        raise ConfigError("data.batch_size and data.eval_batch_size must be >= 1")
    if int(cfg.data.num_folds) < 2:
        raise ConfigError(f"data.num_folds must be >= 2, got {cfg.data.num_folds}")
    parse_fold(cfg.data.fold, int(cfg.data.num_folds))
    if float(cfg.trainer.awp["lambda"]) < 0:
        raise ConfigError(f"trainer.awp.lambda must be >= 0, got {cfg.trainer.awp['lambda']}")
    if not str(cfg.data.root):
        raise ConfigError("data.root is empty")
    for key, source in MODEL_SETTINGS_FROM_TRAINER.items():  # one source of truth
        if key in cfg.model:
            raise ConfigError(f"model.{key}: the trainer sets it from {source}; remove it")
    if cfg.model.get("init_from") is not None and not cfg.resume:
        # a resumed run continues its checkpoint: its source may be gone by then
        read_init_source(str(cfg.model.init_from))
