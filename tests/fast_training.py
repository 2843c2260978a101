"""One place for the settings of the tests' tiny trainings and for composing ``conf/train.yaml``.

The tests train with the shipped defaults, shrunk only in size: every override below says why
it is there. Nothing that turns off a code path a user's run takes belongs here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from omegaconf import DictConfig

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"

TINY_TRAINING: list[str] = [
    # size: the smallest shipped model, narrower still
    "model=tiny",
    "model.dim=32",
    "model.num_heads=2",
    # the shipped augmentation for small models (experiment=demo): the same code path, milder
    "augment=light",
    # size: short windows (the default buckets up to 32 frames still apply)
    "data.max_len=32",
    "data.batch_size=16",
    # late dropout starts within a one- or two-epoch run, so that its path runs too
    "trainer.late_dropout_start_epoch=1",
]
# The same without the export step: for tests of training only (the export's own tests, and the
# end-to-end ones that check an exported model, keep it on).
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


def sigkill_after_first_checkpoint(
    cmd: list[str], run_dir: Path, env: dict[str, str], timeout: float = 240
) -> int:
    """Start ``cmd`` (a training writing to ``run_dir``), SIGKILL it as soon as its first
    epoch's checkpoint state exists, and return the epoch that state records."""
    import json
    import os
    import signal
    import subprocess
    import time

    state_file = run_dir / "checkpoints" / "state.json"
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + timeout
        while not state_file.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, f"the run ended by itself ({proc.returncode})"
    return int(json.loads(state_file.read_text())["epoch"])
