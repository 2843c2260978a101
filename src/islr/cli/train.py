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
from islr.run_layout import ExportLayout, RunLayout

log = logging.getLogger("islr.train")


def _in_multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def main(cfg: DictConfig) -> float | None:
    """Train (and export); returns the monitored validation metric (for sweepers)."""
    from islr.data.reader import DataError
    from islr.errors import DivergenceError, NonFiniteWeightsError
    from islr.train import ConfigError
    from islr.workflow import ExportAfterTrainingError, train_and_export

    log.debug("config:\n%s", OmegaConf.to_yaml(cfg))
    # Expected failures end with one line on stderr and exit status 1, never a traceback.
    try:
        result = train_and_export(cfg)
    except ConfigError as err:
        log.error("configuration error: %s", err)
        raise SystemExit(f"islr-train: configuration error: {err}") from None
    except DataError as err:
        log.error("data error: %s", err)
        raise SystemExit(f"islr-train: data error: {err}") from None
    except (DivergenceError, NonFiniteWeightsError) as err:
        # train() has logged it and written metrics.json (status: diverged).
        if _in_multirun():
            # One diverged job must not end a sweep: the others still run, the summary leaves
            # this one out (no val metric), and NaN marks the trial failed for Optuna.
            log.error("job failed: %s", err)
            return float("nan")
        raise SystemExit(f"islr-train: {err}") from None
    except ExportAfterTrainingError as err:
        log.error("export failed: %s", err)
        raise SystemExit(
            f"islr-train: export failed (the run is kept in {err.run_dir}): {err}"
        ) from None
    run_dir = Path(result["run_dir"])
    layout = RunLayout(run_dir)
    export_dir = None if result["export_dir"] is None else Path(result["export_dir"])
    lines = [f"run directory: {run_dir}"]
    if "val_top1" in result:
        lines.append(
            f"validation (fold {result['fold']}, best epoch {result['best_epoch']}): "
            f"top-1 {result['val_top1']:.4f}, top-5 {result['val_top5']:.4f}"
        )
    lines += [
        f"checkpoints: {layout.checkpoints} (best.keras, last.keras, last.weights.h5)",
        f"metrics: {layout.metrics_json}, {layout.metrics_csv}",
        f"plots: {layout.curves}, {layout.confusion}",
    ]
    if export_dir is not None:
        lines.append(f"export: {export_dir} (submission.zip, *.tflite, saved_model/, model.keras)")
        report = ExportLayout(export_dir).report_md
        if report.is_file():
            # Size, parity error and latency of every exported file, as checked by the gate.
            lines.append(report.read_text().rstrip())
    print("\n".join(lines))
    value = result.get(str(cfg.monitor))
    return None if value is None else float(value)


if __name__ == "__main__":
    main()
