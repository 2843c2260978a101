"""``islr-eval``: evaluate a trained network on a validation fold (``conf/eval.yaml``).

Example::

    islr-eval ckpt_path=logs/train/runs/<run>/checkpoints/best.keras data.fold=0
"""

from __future__ import annotations

import logging

import hydra
from omegaconf import DictConfig

from islr.cli._config import CONFIG_DIR
from islr.cli._errors import run_hydra_task, start_hydra_command

log = logging.getLogger("islr.eval")


def evaluate_command(cfg: DictConfig) -> float:
    """Evaluate ``cfg.ckpt_path`` and print the metrics (with the expected calibration error
    and NLL, before and after the run's temperature when it has ``calibration.json``); returns
    top-1.

    Raises islr's known errors (:func:`islr.cli._errors.run_hydra_task` turns them into one line).
    """
    from islr.train import evaluate_checkpoint

    result = evaluate_checkpoint(cfg)
    print(
        f"{result['ckpt_path']} on fold {result['fold']}: top-1 {result['val_top1']:.4f}, "
        f"top-5 {result['val_top5']:.4f}, loss {result['val_loss']:.4f} "
        f"({result['val_num_samples']} samples) -> {cfg.paths.output_dir}"
    )
    print(_calibration_line(result))
    return float(result["val_top1"])


def _calibration_line(result: dict) -> str:
    if "val_ece_before" not in result:
        return "ECE: no clip with finite scores"
    bins = f"{result['ece_bins']} bins"
    if "val_ece_after" not in result:
        return (
            f"ECE {result['val_ece_before']:.4f} ({bins}), NLL {result['val_nll_before']:.4f}: "
            "uncalibrated (no calibration.json in the checkpoint's run directory)"
        )
    cal = result["calibration"]
    same = " (the fold it was fitted on)" if cal["fold"] == result["fold"] else ""
    precision = result["val_rejection_precision"]
    kept = (
        "keeps no clip"
        if precision is None
        else f"keeps {100 * result['val_rejection_coverage']:.1f} % of the clips at "
        f"{100 * precision:.1f} % precision"
    )
    return (
        f"ECE {result['val_ece_before']:.4f} -> {result['val_ece_after']:.4f} ({bins}), "
        f"NLL {result['val_nll_before']:.4f} -> {result['val_nll_after']:.4f} with the run's "
        f"temperature {cal['temperature']:.4f}{same}; its rejection threshold "
        f"{cal['threshold']:.4f} {kept}"
    )


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="eval")
def _hydra_main(cfg: DictConfig) -> float:
    return run_hydra_task("islr-eval", evaluate_command, cfg)


def main() -> float | None:
    """Entry point of ``islr-eval``: a known error ends it with one line and exit status 1."""
    return start_hydra_command(_hydra_main)


if __name__ == "__main__":
    main()
