"""Evaluate a trained network on a split: logits, top-1/top-5, loss, and the report files."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
from omegaconf import DictConfig

from islr.train.pipeline import SequenceBatches

log = logging.getLogger(__name__)


@dataclass
class Evaluation:
    """Per-sample logits and labels of one evaluation pass, plus summary metrics."""

    logits: np.ndarray  # [N, num_classes] float32
    labels: np.ndarray  # [N] int
    metrics: dict[str, float]


def classification_metrics(logits: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Top-1, top-5 accuracy and mean cross-entropy (no label smoothing) of ``logits``."""
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if logits.ndim != 2 or len(logits) != len(labels):
        raise ValueError(f"logits {logits.shape} and labels {labels.shape} do not match")
    if len(labels) == 0:
        raise ValueError("no samples to evaluate")
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    true_logit = logits[np.arange(len(labels)), labels]
    # rank = how many classes score strictly higher than the true one
    rank = (logits > true_logit[:, None]).sum(axis=1)
    return {
        "top1": float(np.mean(rank < 1)),
        "top5": float(np.mean(rank < 5)),
        "loss": float(-log_probs[np.arange(len(labels)), labels].mean()),
        "num_samples": len(labels),
    }


def evaluate_network(network: keras.Model, dataset: SequenceBatches) -> Evaluation:
    """Run ``network`` (inference mode) over an evaluation dataset; filler rows are dropped."""
    if dataset.training:
        raise ValueError("evaluate_network needs an evaluation dataset (training=False)")
    all_logits, all_labels = [], []
    for x, y, w in dataset.iter_numpy():
        logits = keras.ops.convert_to_numpy(network.predict_on_batch(x)).astype(np.float32)
        keep = w > 0
        all_logits.append(logits[keep])
        all_labels.append(np.asarray(y)[keep])
    logits = np.concatenate(all_logits)
    labels = np.concatenate(all_labels)
    return Evaluation(logits, labels, classification_metrics(logits, labels))


def evaluate_checkpoint(cfg: DictConfig) -> dict[str, Any]:
    """Evaluate ``cfg.ckpt_path`` (a ``.keras`` network) on fold ``cfg.data.fold``.

    Writes metrics.json, per_sign_accuracy.csv/png and confusion.png to ``cfg.paths.output_dir``
    and returns the metrics.
    """
    import islr.features
    import islr.model  # noqa: F401
    from islr.train import reports
    from islr.train.callbacks import write_json_atomic
    from islr.train.run import ConfigError, load_split, make_dataset

    ckpt = Path(str(cfg.ckpt_path)) if cfg.get("ckpt_path") else None
    if ckpt is None:
        raise ConfigError("ckpt_path is required: a .keras file or a run directory")
    if ckpt.is_dir():
        ckpt = ckpt / "checkpoints" / "best.keras"
    if not ckpt.exists():
        raise ConfigError(f"ckpt_path={cfg.ckpt_path}: no such checkpoint ({ckpt})")
    split = load_split(cfg)
    if split.val_indices is None:
        raise ConfigError("data.fold=all leaves nothing to evaluate: choose a fold")
    keras.config.set_dtype_policy("float32")
    network = keras.saving.load_model(ckpt, compile=False)
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
    write_json_atomic(out_dir / "metrics.json", result)
    return result
