"""Where and on what a run trains: its sweep job's GPU, the multi-host group, the run
directory, a clean Keras session with the run's seeds, the devices and their precision.

:func:`start_session` runs before the backend touches a device (a parallel sweep job takes its
own GPU, a multi-host process joins its group first); :func:`setup_devices` once the data is
ready; :func:`release_hosts` and :func:`end_session` undo them (multirun jobs share a process).
"""

from __future__ import annotations

import os
import random
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import keras
from omegaconf import DictConfig

from islr.hydra_runtime import multirun_job
from islr.run_layout import RunLayout
from islr.train.devices import claim_gpu_for_job
from islr.train.distribution import DeviceSetup, setup_distribution, teardown_distribution
from islr.train.multihost import HostGroup, setup_hosts

__all__ = [
    "RunSession",
    "end_session",
    "release_hosts",
    "reset_keras",
    "setup_devices",
    "start_session",
]


@dataclass
class RunSession:
    """The run's place: its directory, its process group and the GPU of its sweep job.

    Attributes:
        layout: the run directory's files.
        hosts: the multi-host group (one process when not multi-host).
        gpu: the GPU this sweep job claimed (None: not a parallel sweep job).
        checkpoint_root: where this process saves checkpoints: the run directory on process 0;
            on the others a scratch directory (saving arrays spread over the processes takes
            part in collectives, so every process saves), removed by :func:`release_hosts`.
    """

    layout: RunLayout
    hosts: HostGroup
    gpu: int | None
    checkpoint_root: Path

    @property
    def run_dir(self) -> Path:
        return self.layout.run_dir


def reset_keras(seed: int, precision: str = "float32", deterministic: bool = False) -> None:
    """A clean session (multirun jobs share one process), the dtype policy and all seeds."""
    teardown_distribution()
    keras.backend.clear_session()
    keras.config.set_dtype_policy(precision)
    if deterministic:
        os.environ["PYTHONHASHSEED"] = str(seed)
        # GPU XLA kernels (JAX): read when the backend client starts.
        os.environ.setdefault("XLA_FLAGS", "--xla_gpu_deterministic_ops=true")
        tf = sys.modules.get("tensorflow")  # already loaded by Keras' TF backend; not imported
        if keras.backend.backend() == "tensorflow" and tf is not None:
            tf.config.experimental.enable_op_determinism()
    random.seed(seed)
    keras.utils.set_random_seed(seed)


def start_session(cfg: DictConfig) -> RunSession:
    """Claim the sweep job's GPU and join the multi-host group (both before the backend
    touches a device), create the run directory, and reset Keras with the run's seed."""
    job = multirun_job()
    job_num = None if job is None else job.num
    gpu = claim_gpu_for_job(job_num, bool(cfg.trainer.get("gpu_per_job", True)))
    hosts = setup_hosts(cfg.trainer)  # trainer.multihost, or a SLURM job step
    layout = RunLayout(Path(str(cfg.paths.output_dir)))
    layout.run_dir.mkdir(parents=True, exist_ok=True)
    checkpoint_root = layout.run_dir
    if not hosts.writes_files:
        checkpoint_root = Path(tempfile.mkdtemp(prefix=f"islr-process{hosts.process_id}-"))
    reset_keras(int(cfg.seed), "float32", bool(cfg.trainer.deterministic))
    return RunSession(layout, hosts, gpu, checkpoint_root)


def setup_devices(cfg: DictConfig) -> DeviceSetup:
    """The devices of ``trainer.distribution`` and the dtype policy of ``trainer.precision``."""
    batch_sizes = (int(cfg.data.batch_size), int(cfg.data.eval_batch_size))
    devices = setup_distribution(cfg.trainer.get("distribution"), batch_sizes)
    keras.config.set_dtype_policy(str(cfg.trainer.precision))
    return devices


def release_hosts(session: RunSession) -> bool:
    """After the fit of a multi-host run, leave the process group; returns whether this process
    goes on to evaluate and report (process 0, which evaluates ``best.keras`` whole on its own
    device: an array over every host's devices would need the others)."""
    if not session.hosts.is_multihost:
        return True
    teardown_distribution()
    if session.hosts.writes_files:
        return True
    shutil.rmtree(session.checkpoint_root, ignore_errors=True)
    keras.config.set_dtype_policy("float32")
    return False


def end_session() -> None:
    """Back to float32 on one device, for whatever the process runs next."""
    keras.config.set_dtype_policy("float32")
    teardown_distribution()
