"""``islr-eval``: evaluate a trained network on a validation fold (``conf/eval.yaml``).

Example::

    islr-eval ckpt_path=logs/train/runs/<run>/checkpoints/best.keras data.fold=0
"""

from __future__ import annotations

import logging

import hydra
from omegaconf import DictConfig

from islr.cli._config import CONFIG_DIR

log = logging.getLogger("islr.eval")


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="eval")
def main(cfg: DictConfig) -> float:
    """Evaluate and print the metrics; returns top-1."""
    from islr.train import ConfigError, evaluate_checkpoint

    try:
        result = evaluate_checkpoint(cfg)
    except ConfigError as err:
        raise SystemExit(f"islr-eval: configuration error: {err}") from None
    print(
        f"{result['ckpt_path']} on fold {result['fold']}: top-1 {result['val_top1']:.4f}, "
        f"top-5 {result['val_top5']:.4f}, loss {result['val_loss']:.4f} "
        f"({result['val_num_samples']} samples) -> {cfg.paths.output_dir}"
    )
    return float(result["val_top1"])


if __name__ == "__main__":
    main()
