"""Evaluate a trained network on a split: logits, top-1/top-5, loss, and the report files
(``islr-eval``, and the end of a training run)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import keras
from omegaconf import DictConfig

from islr.atomic_io import write_json_atomic
from islr.errors import ConfigError
from islr.model import (  # importing islr.model registers the layers best.keras needs
    check_network_file,
    load_network_file,
)
from islr.run_layout import RunLayout
from islr.train import reports
from islr.train.checkpoint import CheckpointState
from islr.train.datamodule import DataSplit, load_split, make_dataset
from islr.train.metrics import Evaluation, classification_metrics, evaluate_network

__all__ = [
    "Evaluation",
    "classification_metrics",
    "evaluate_best",
    "evaluate_checkpoint",
    "evaluate_network",
]

log = logging.getLogger(__name__)


def evaluate_checkpoint(cfg: DictConfig) -> dict[str, Any]:
    """Evaluate ``cfg.ckpt_path`` (a ``.keras`` network) on fold ``cfg.data.fold``.

    Writes metrics.json, per_sign_accuracy.csv/png and confusion.png to ``cfg.paths.output_dir``
    and returns the metrics.
    """
    ckpt = Path(str(cfg.ckpt_path)) if cfg.get("ckpt_path") else None
    if ckpt is None:
        raise ConfigError("ckpt_path is required: a .keras file or a run directory")
    if ckpt.is_dir():
        ckpt = RunLayout(ckpt).best
    if not ckpt.exists():
        raise ConfigError(f"ckpt_path={cfg.ckpt_path}: no such checkpoint ({ckpt})")
    try:
        check_network_file(ckpt)  # before any data work: a wrong file fails fast
    except ValueError as exc:
        raise ConfigError(f"ckpt_path={cfg.ckpt_path}: {exc}") from exc
    split = load_split(cfg)
    if split.val_indices is None:
        raise ConfigError("data.fold=all leaves nothing to evaluate: choose a fold")
    keras.config.set_dtype_policy("float32")
    try:
        network = load_network_file(ckpt)
    except ValueError as exc:
        raise ConfigError(f"ckpt_path={cfg.ckpt_path}: {exc}") from exc
    n_out = int(network.output_shape[-1])
    if n_out != split.num_classes:
        raise ConfigError(
            f"{ckpt}: the network predicts {n_out} classes but the data has {split.num_classes}"
        )
    dataset = make_dataset(cfg, split, training=False)
    evaluation = evaluate_network(network, dataset)
    out_dir = Path(str(cfg.paths.output_dir))
    out_dir.mkdir(parents=True, exist_ok=True)
    result = {
        "ckpt_path": str(ckpt),
        "fold": split.fold,
        **{f"val_{k}": v for k, v in evaluation.metrics.items()},
    }
    reports.write_evaluation_reports(out_dir, evaluation, split.sign_names)
    write_json_atomic(RunLayout(out_dir).metrics_json, result)
    return result


def evaluate_best(
    cfg: DictConfig, split: DataSplit, checkpointer: CheckpointState, layout: RunLayout
) -> dict[str, Any]:
    """The run's best checkpoint on its whole validation split, as ``{"val_top1": ...}``, with
    the evaluation reports (``callbacks.reports.enabled``); empty without validation or a
    saved best checkpoint."""
    if split.val_indices is None or not checkpointer.save_best:
        return {}
    if not checkpointer.best_path.exists():
        return {}
    best = keras.saving.load_model(checkpointer.best_path, compile=False)
    evaluation = evaluate_network(best, make_dataset(cfg, split, training=False))
    if cfg.callbacks.reports.enabled:
        reports.write_evaluation_reports(
            layout.run_dir,
            evaluation,
            split.sign_names,
            top_confusions=int(cfg.callbacks.reports.top_confusions),
        )
    return {f"val_{k}": v for k, v in evaluation.metrics.items()}
