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
    """Evaluate ``cfg.ckpt_path`` and print the metrics; returns top-1.

    Raises islr's known errors (:func:`islr.cli._errors.run_hydra_task` turns them into one line).
    """
    from islr.train import evaluate_checkpoint

    result = evaluate_checkpoint(cfg)
    print(
        f"{result['ckpt_path']} on fold {result['fold']}: top-1 {result['val_top1']:.4f}, "
        f"top-5 {result['val_top5']:.4f}, loss {result['val_loss']:.4f} "
        f"({result['val_num_samples']} samples) -> {cfg.paths.output_dir}"
    )
    return float(result["val_top1"])


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="eval")
def _hydra_main(cfg: DictConfig) -> float:
    return run_hydra_task("islr-eval", evaluate_command, cfg)


def main() -> float | None:
    """Entry point of ``islr-eval``: a known error ends it with one line and exit status 1."""
    return start_hydra_command(_hydra_main)


if __name__ == "__main__":
    main()
