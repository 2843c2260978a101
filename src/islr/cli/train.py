"""``islr-train``: train a sign classifier with Hydra (``conf/train.yaml``), then export it.

Examples::

    islr-train experiment=demo data.root=data/synthetic
    islr-train experiment=reference data.root=/data/asl-signs data.fold=all
    islr-train --multirun data.fold=0,1,2,3,4          # cross-validation -> cv_summary.json
    islr-train resume=true hydra.run.dir=logs/train/runs/<old run>
"""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from islr.cli._config import CONFIG_DIR
from islr.cli._errors import run_hydra_task, start_hydra_command
from islr.hydra_runtime import multirun_job
from islr.run_layout import ExportLayout, RunLayout
from islr.web_server import WEB_DIR

log = logging.getLogger("islr.train")


def train_command(cfg: DictConfig) -> float | None:
    """Train (and export) as ``cfg`` says and print where everything went.

    Returns the monitored validation metric (for sweepers); NaN for a diverged job of a
    ``--multirun``. Raises islr's known errors (:func:`islr.cli._errors.run_hydra_task` turns
    them into one line).
    """
    from islr.errors import DivergenceError, NonFiniteWeightsError
    from islr.workflow import train_and_export

    log.debug("config:\n%s", OmegaConf.to_yaml(cfg))
    try:
        result = train_and_export(cfg)
    except (DivergenceError, NonFiniteWeightsError) as err:
        # train() has logged it and written metrics.json (status: diverged).
        if multirun_job() is None:
            raise
        # One diverged job must not end a sweep: the others still run, the summary leaves
        # this one out (no val metric), and NaN marks the trial failed for Optuna.
        log.error("job failed: %s", err)
        return float("nan")
    run_dir = Path(result["run_dir"])
    layout = RunLayout(run_dir)
    export_dir = None if result["export_dir"] is None else Path(result["export_dir"])
    lines = [f"run directory: {run_dir}"]
    if "val_top1" in result:
        lines.append(
            f"validation (fold {result['fold']}, best epoch {result['best_epoch']}): "
            f"top-1 {result['val_top1']:.4f}, top-5 {result['val_top5']:.4f}"
        )
    if "val_temperature" in result:
        met = "" if result["val_rejection_target_met"] else ", target NOT reached"
        lines.append(
            f"calibration: {layout.calibration} (temperature {result['val_temperature']:.3f}, "
            f"ECE {result['val_ece_before']:.4f} -> {result['val_ece_after']:.4f}, NLL "
            f"{result['val_nll_before']:.4f} -> {result['val_nll_after']:.4f}; no sign below "
            f"{result['val_rejection_threshold']:.3f}: keeps "
            f"{100 * result['val_rejection_coverage']:.0f} % of the validation clips at "
            f"{100 * result['val_rejection_precision']:.0f} % precision{met})"
        )
    lines += [
        f"checkpoints: {layout.checkpoints} (best.keras, last.keras, last.weights.h5)",
        f"metrics: {layout.metrics_json}, {layout.metrics_csv}",
        f"plots: {layout.curves}, {layout.confusion}, {layout.reliability}",
    ]
    if export_dir is not None:
        lines.append(f"export: {export_dir} (submission.zip, *.tflite, saved_model/, model.keras)")
        report = ExportLayout(export_dir).report_md
        if report.is_file():
            # Size, parity error and latency of every exported file, as checked by the gate.
            lines.append(report.read_text().rstrip())
        if (export_dir / WEB_DIR).is_dir():
            lines.append(f"browser app: islr-serve-web {export_dir}")
    print("\n".join(lines))
    value = result.get(str(cfg.monitor))
    return None if value is None else float(value)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def _hydra_main(cfg: DictConfig) -> float | None:
    return run_hydra_task("islr-train", train_command, cfg)


def main() -> float | None:
    """Entry point of ``islr-train``: a known error ends it with one line and exit status 1."""
    return start_hydra_command(_hydra_main)


if __name__ == "__main__":
    main()
