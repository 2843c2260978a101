"""What a finished run reports in ``metrics.json``: the fit (epochs, best epoch, history), the
devices it ran on, its timing, and the evaluation of its best checkpoint (with its calibration:
``val_ece_before``/``_after``, ``val_nll_before``/``_after``, ...); the learning curves."""

from __future__ import annotations

import logging
from typing import Any

from omegaconf import DictConfig

from islr.atomic_io import write_json_atomic
from islr.run_layout import RunLayout
from islr.train.checkpoint import CheckpointState
from islr.train.trainer_setup import RunSession
from islr.train.training_model import Trainer

__all__ = ["fit_result", "log_final", "write_results"]

log = logging.getLogger(__name__)


def fit_result(
    session: RunSession,
    trainer: Trainer,
    fold: int | None,
    checkpointer: CheckpointState,
    fit_seconds: float,
) -> dict[str, Any]:
    """``metrics.json``'s content after the fit (the evaluation adds ``val_*``)."""
    devices = trainer.devices
    return {
        "run_dir": str(session.run_dir),
        "fold": fold,
        "epochs": len(checkpointer.history),
        "best_epoch": checkpointer.best_epoch,
        "history": checkpointer.history,
        "num_parameters": int(trainer.network.count_params()),
        "init_from": trainer.init_from,
        "devices": {
            "strategy": devices.strategy,
            "num_devices": devices.num_devices,
            "num_hosts": devices.num_hosts,
            "platform": devices.platform,
            "gpu_of_sweep_job": session.gpu,
            "process_id": session.hosts.process_id,
        },
        "timing": {
            "fit_seconds_this_session": fit_seconds,
            "train_seconds_total": checkpointer.seconds,
        },
    }


def write_results(
    cfg: DictConfig, result: dict[str, Any], checkpointer: CheckpointState, layout: RunLayout
) -> None:
    """The learning curves (``callbacks.reports.enabled``) and ``metrics.json``."""
    if cfg.callbacks.reports.enabled:
        from islr.train import reports

        reports.plot_curves(checkpointer.history, layout.curves)
    write_json_atomic(layout.metrics_json, result)


def log_final(result: dict[str, Any]) -> None:
    """One log line with the best checkpoint's validation metrics, when there are any."""
    if "val_top1" in result:
        log.info(
            "final val (best epoch %s): top1=%.4f top5=%.4f loss=%.4f",
            result["best_epoch"],
            result["val_top1"],
            result["val_top5"],
            result["val_loss"],
        )
    if "val_ece_before" in result:
        log.info(
            "calibration: temperature %.3f, ECE %.4f -> %.4f, NLL %.4f -> %.4f; rejection "
            "threshold %.4f keeps %.1f %% of the validation clips at %.1f %% precision "
            "(target %.1f %%%s)",
            result["val_temperature"],
            result["val_ece_before"],
            result["val_ece_after"],
            result["val_nll_before"],
            result["val_nll_after"],
            result["val_rejection_threshold"],
            100 * result["val_rejection_coverage"],
            100 * result["val_rejection_precision"],
            100 * result["val_rejection_target_precision"],
            "" if result["val_rejection_target_met"] else ": NOT reached",
        )
