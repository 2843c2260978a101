"""Classification metrics that cannot flatter a broken network, and one evaluation pass.

Kept apart from :mod:`islr.train.evaluate` (which needs the run's data loading) so that the
training run can evaluate without importing it back.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

from islr.train.pipeline import SequenceBatches

__all__ = ["Evaluation", "classification_metrics", "evaluate_network", "true_class_rank"]


@dataclass
class Evaluation:
    """Per-sample logits and labels of one evaluation pass, plus summary metrics."""

    logits: np.ndarray  # [N, num_classes] float32
    labels: np.ndarray  # [N] int
    metrics: dict[str, float]


def true_class_rank(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """0-based rank of the true class in each row, ties broken against it.

    The rank counts the other classes scoring higher than **or equal to** the true class, so a
    constant row ranks the true class last. A row holding any NaN or infinite score has no
    meaningful order: its rank is the largest int64 (never within any top-k).
    """
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    rows = np.arange(len(logits))
    true_score = logits[rows, labels]
    rank = (logits >= true_score[:, None]).sum(axis=1) - 1  # minus the true class itself
    finite = np.isfinite(logits).all(axis=1)
    return np.where(finite, rank, np.iinfo(np.int64).max)


def classification_metrics(logits: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Top-1, top-5 accuracy and mean cross-entropy (no label smoothing) of ``logits``.

    A sample counts as correct at ``k`` only if fewer than ``k`` other classes score at least as
    high as the true one (ties count against it) and all its scores are finite; so NaN or
    constant logits score 0, not 100 %. The loss is NaN when any logit is non-finite.
    """
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if logits.ndim != 2 or len(logits) != len(labels):
        raise ValueError(f"logits {logits.shape} and labels {labels.shape} do not match")
    if len(labels) == 0:
        raise ValueError("no samples to evaluate")
    if labels.min() < 0 or labels.max() >= logits.shape[1]:
        raise ValueError(f"labels must lie in 0..{logits.shape[1] - 1}")
    rank = true_class_rank(logits, labels)
    with np.errstate(invalid="ignore", over="ignore"):
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        loss = -log_probs[np.arange(len(labels)), labels].mean()
    if not np.isfinite(logits).all():
        loss = np.nan
    return {
        "top1": float(np.mean(rank < 1)),
        "top5": float(np.mean(rank < 5)),
        "loss": float(loss),
        "num_samples": len(labels),
        "num_nonfinite": int((~np.isfinite(logits).all(axis=1)).sum()),
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
