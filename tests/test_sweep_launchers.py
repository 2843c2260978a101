"""Sweeps on Hydra's real launcher plugins: parallel local jobs on one shared, fresh cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fast_training import CONF_DIR
from islr.hydra_runtime import multirun_job
from islr.train.devices import claim_gpu_for_job

BIN = Path(sys.executable).parent
# A user's first parallel sweep, as typed (it once failed in every job: the cache builder's
# process pool could not start inside the launcher's loky worker).
USER_SWEEP = [
    "--multirun",
    "hydra/launcher=parallel",
    "hydra.launcher.n_jobs=3",
    "experiment=demo",
    "debug=fast",
    "data.fold=0,1,2",
]
SMALLER = [  # size only
    "model.dim=32",
    "model.num_heads=2",
    "data.max_len=32",
    "data.batch_size=16",
    "trainer.limit_train_batches=2",
    # the tiny data set's 200 files are read in the job's own process by default (one reader
    # process per 512 files); 2 reader processes, as a real data set gets, take the pool path
    "data.preprocess_workers=2",
]


@pytest.mark.slow
def test_three_parallel_jobs_share_one_fresh_cache(tiny_root, tmp_path) -> None:
    sweep, cache = tmp_path / "sweep", tmp_path / "cache"
    env = dict(os.environ, ISLR_NUM_GPUS="2", PYTHONUNBUFFERED="1")
    env.pop("CUDA_VISIBLE_DEVICES", None)
    done = subprocess.run(
        [
            str(BIN / "islr-train"),
            *USER_SWEEP,
            *SMALLER,
            f"data.root={tiny_root}",
            f"data.cache_dir={cache}",
            f"hydra.sweep.dir={sweep}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    logs = [(sweep / str(k) / "demo.log").read_text() for k in range(3)]
    built = [log for log in logs if "cache built" in log]
    assert len(built) == 1, "the cache must be built by exactly one job"
    assert "with 2 process(es)" in built[0]
    assert all("cache built" in log or "up-to-date cache" in log for log in logs)
    summary = json.loads((sweep / "cv_summary.json").read_text())
    assert summary["num_jobs"] == 3 and sorted(j["fold"] for j in summary["jobs"]) == [0, 1, 2]
    assert "cv summary" in done.stdout
    gpus = [
        json.loads((sweep / str(k) / "metrics.json").read_text())["devices"]["gpu_of_sweep_job"]
        for k in range(3)
    ]
    assert set(gpus) <= {"0", "1"} and len(set(gpus)) == 2  # two "GPUs", both used


def test_gpu_per_job_rules(monkeypatch) -> None:
    monkeypatch.setenv("ISLR_NUM_GPUS", "4")
    monkeypatch.delenv("ISLR_CLAIMED_GPU", raising=False)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert multirun_job() is None and claim_gpu_for_job(None) is None  # not a multirun job
    assert claim_gpu_for_job(6, enabled=False) is None
    assert claim_gpu_for_job(6) == "2" and os.environ["CUDA_VISIBLE_DEVICES"] == "2"
    assert claim_gpu_for_job(7) == "2"  # a reused worker keeps its GPU
    monkeypatch.delenv("ISLR_CLAIMED_GPU")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")  # set by SLURM: left alone
    assert claim_gpu_for_job(1) is None and os.environ["CUDA_VISIBLE_DEVICES"] == "3"
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    monkeypatch.setenv("ISLR_NUM_GPUS", "1")
    assert claim_gpu_for_job(1) is None and "CUDA_VISIBLE_DEVICES" not in os.environ


def test_shipped_launcher_configs_compose() -> None:
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        for name, target in [
            ("parallel", "JoblibLauncher"),
            ("local_submitit", "LocalLauncher"),
            ("slurm", "SlurmLauncher"),
        ]:
            cfg = compose("train", overrides=[f"hydra/launcher={name}"], return_hydra_config=True)
            assert cfg.hydra.launcher._target_.endswith(target), name
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("train", overrides=["hydra/launcher=slurm"], return_hydra_config=True)
        assert cfg.hydra.launcher.gpus_per_node == 1 and cfg.hydra.launcher.timeout_min == 720
