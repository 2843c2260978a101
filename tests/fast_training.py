"""One place for the settings of the tests' tiny trainings and for composing ``conf/train.yaml``.

Small and fast: one padded shape (no bucketing), a very small model, late dropout early enough
to happen in a one- or two-epoch run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from omegaconf import DictConfig

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"

TINY_TRAINING: list[str] = [
    "model=tiny",
    "model.dim=32",
    "model.num_heads=2",
    "augment=light",
    "data.max_len=32",
    "data.bucketing=false",
    "data.batch_size=16",
    "data.preprocess_workers=1",
    "trainer.late_dropout_start_epoch=1",
]
# The same without the export step (most tests check training only).
FAST: list[str] = [*TINY_TRAINING, "export.enabled=false"]


def compose_train(overrides: list[str]) -> DictConfig:
    """``conf/train.yaml`` composed with ``overrides`` through Hydra's compose API."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose("train", overrides=overrides)


def h5_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every array in an ``.h5`` checkpoint by its path (to compare two runs' saved state)."""
    import h5py

    out: dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as f:
        f.visititems(
            lambda name, obj: out.__setitem__(name, obj[()]) if hasattr(obj, "shape") else None
        )
    return out
