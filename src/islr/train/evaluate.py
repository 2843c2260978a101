"""Evaluate a trained network on a split: logits, top-1/top-5, loss, calibration (ECE, NLL)
and the report files (``islr-eval``, and the end of a training run)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import keras
import numpy as np
from omegaconf import DictConfig

from islr.atomic_io import write_json_atomic
from islr.errors import ConfigError
from islr.model import (  # importing islr.model registers the layers best.keras needs
    check_network_file,
    load_network_file,
)
from islr.run_layout import CHECKPOINT, RunLayout
from islr.train import reports
from islr.train.calibration import (
    Calibration,
    apply_temperature,
    expected_calibration_error,
    fit_calibration,
    negative_log_likelihood,
    read_calibration,
    write_calibration,
)
from islr.train.checkpoint import CheckpointState
from islr.train.datamodule import DataSplit, load_split, make_dataset
from islr.train.metrics import Evaluation, classification_metrics, evaluate_network

__all__ = [
    "Evaluation",
    "calibrate_best",
    "calibration_metrics",
    "classification_metrics",
    "evaluate_best",
    "evaluate_checkpoint",
    "evaluate_network",
]

log = logging.getLogger(__name__)


def evaluate_checkpoint(cfg: DictConfig) -> dict[str, Any]:
    """Evaluate ``cfg.ckpt_path`` (a ``.keras`` network) on fold ``cfg.data.fold``.

    Writes metrics.json, per_sign_accuracy.csv/png and confusion.png to ``cfg.paths.output_dir``
    and returns the metrics. They include the expected calibration error and NLL of the raw
    softmax (``val_ece_before``, ``val_nll_before``) and, when the checkpoint's run directory
    holds ``calibration.json``, under its temperature (``val_ece_after``, ``val_nll_after``,
    ``calibration``: the file, its temperature and fold) with the coverage and precision of its
    rejection threshold on this fold.
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
    result.update(calibration_metrics(evaluation, _run_calibration(ckpt)))
    reports.write_evaluation_reports(out_dir, evaluation, split.sign_names)
    write_json_atomic(RunLayout(out_dir).metrics_json, result)
    return result


def _run_calibration(ckpt: Path) -> tuple[Path, Calibration] | None:
    """The calibration of the run ``ckpt`` is the best checkpoint of, if it has one."""
    if ckpt.name != CHECKPOINT.name or ckpt.parent.name != CHECKPOINT.parent.name:
        return None
    path = RunLayout(ckpt.parent.parent).calibration
    if not path.is_file():
        return None
    try:
        return path, read_calibration(path)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def calibration_metrics(
    evaluation: Evaluation, calibration: tuple[Path, Calibration] | None, bins: int = 15
) -> dict[str, Any]:
    """ECE and NLL of ``evaluation``'s softmax (``val_ece_before``, ``val_nll_before``) and,
    with a run's ``(path, calibration)``, under its temperature (``val_ece_after``, ...) and
    what its rejection threshold accepts (``val_rejection_coverage``/``_precision``).
    Clips with NaN/inf logits are left out (``val_num_nonfinite`` counts them)."""
    finite = np.isfinite(evaluation.logits).all(axis=1)
    logits, labels = evaluation.logits[finite], evaluation.labels[finite]
    if not len(labels):
        return {}
    if calibration is not None:
        bins = calibration[1].bins
    out: dict[str, Any] = {
        "ece_bins": bins,
        "val_ece_before": expected_calibration_error(apply_temperature(logits), labels, bins),
        "val_nll_before": negative_log_likelihood(logits, labels),
    }
    if calibration is None:
        return out
    path, cal = calibration
    probs = cal.probabilities(logits)
    accepted = probs.max(axis=1) >= cal.threshold
    right = probs.argmax(axis=1) == labels
    out.update(
        {
            "val_ece_after": expected_calibration_error(probs, labels, bins),
            "val_nll_after": negative_log_likelihood(logits, labels, cal.temperature),
            "val_rejection_coverage": float(accepted.mean()),
            "val_rejection_precision": float(right[accepted].mean()) if accepted.any() else None,
            "calibration": {
                "file": str(path),
                "temperature": cal.temperature,
                "threshold": cal.threshold,
                "target_precision": cal.target_precision,
                "fold": cal.fold,
            },
        }
    )
    return out


def evaluate_best(
    cfg: DictConfig, split: DataSplit, checkpointer: CheckpointState, layout: RunLayout
) -> tuple[dict[str, Any], Evaluation | None]:
    """The run's best checkpoint on its whole validation split, as ``{"val_top1": ...}`` and
    the evaluation itself (its logits), with the evaluation reports
    (``callbacks.reports.enabled``); ``({}, None)`` without validation or a saved best
    checkpoint."""
    if split.val_indices is None or not checkpointer.save_best:
        return {}, None
    if not checkpointer.best_path.exists():
        return {}, None
    best = keras.saving.load_model(checkpointer.best_path, compile=False)
    evaluation = evaluate_network(best, make_dataset(cfg, split, training=False))
    if cfg.callbacks.reports.enabled:
        reports.write_evaluation_reports(
            layout.run_dir,
            evaluation,
            split.sign_names,
            top_confusions=int(cfg.callbacks.reports.top_confusions),
        )
    return {f"val_{k}": v for k, v in evaluation.metrics.items()}, evaluation


def calibrate_best(
    cfg: DictConfig, evaluation: Evaluation, fold: Any, layout: RunLayout
) -> dict[str, Any]:
    """Fit ``cfg.calibration`` on the best checkpoint's validation logits: writes
    ``calibration.json`` (and ``reliability.png`` with ``callbacks.reports.enabled``) and
    returns the figures as ``val_*`` metrics; empty when disabled or nothing is finite."""
    settings = cfg.calibration
    layout.calibration.unlink(missing_ok=True)  # never a stale file beside a new best.keras
    if not settings.enabled:
        return {}
    try:
        cal = fit_calibration(
            evaluation.logits,
            evaluation.labels,
            target_precision=float(settings.target_precision),
            bins=int(settings.bins),
            fold=fold,
        )
    except ValueError as exc:  # every validation logit non-finite: nothing to calibrate
        log.warning("calibration skipped: %s", exc)
        return {}
    write_calibration(layout.calibration, cal)
    if cfg.callbacks.reports.enabled:
        finite = np.isfinite(evaluation.logits).all(axis=1)
        reports.plot_reliability(
            evaluation.logits[finite], evaluation.labels[finite], cal, layout.reliability
        )
    return cal.metrics()
