"""One GPU per job when a sweep runs several training jobs in parallel on one machine.

Hydra's joblib launcher starts jobs as local processes that would all see (and crowd onto)
every GPU. :func:`claim_gpu_for_job` gives job ``k`` of a multirun GPU ``k mod n`` through
``CUDA_VISIBLE_DEVICES``, before TensorFlow or JAX touch a device (both read it when they first
initialise CUDA, not at import). It does nothing when ``CUDA_VISIBLE_DEVICES`` is already set
(SLURM and submitit set it per job), outside a multirun, or with fewer than two GPUs.
A worker process reused for a later job keeps the GPU it started with.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess

__all__ = ["claim_gpu_for_job", "count_gpus"]

log = logging.getLogger(__name__)

_CLAIMED_ENV = "ISLR_CLAIMED_GPU"


def count_gpus() -> int:
    """NVIDIA GPUs on this machine, without importing a framework.

    ``$ISLR_NUM_GPUS`` overrides (for machines without ``nvidia-smi``); else ``nvidia-smi -L``.
    """
    override = os.environ.get("ISLR_NUM_GPUS")
    if override:
        return int(override)
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return 0
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return 0
    return sum(1 for line in out.stdout.splitlines() if line.startswith("GPU "))


def claim_gpu_for_job(job_num: int | None, enabled: bool = True) -> str | None:
    """Set ``CUDA_VISIBLE_DEVICES`` for multirun job ``job_num``; returns the GPU it got.

    Returns None (and changes nothing) when disabled, outside a multirun (``job_num`` None),
    when ``CUDA_VISIBLE_DEVICES`` is set by someone else, or with fewer than two GPUs.
    """
    if not enabled or job_num is None:
        return None
    claimed = os.environ.get(_CLAIMED_ENV)
    if claimed is not None:  # a reused worker process: its framework already holds this GPU
        if claimed != str(job_num % max(count_gpus(), 1)):
            log.info("job %d runs in a reused worker that holds GPU %s", job_num, claimed)
        return claimed
    if os.environ.get("CUDA_VISIBLE_DEVICES") is not None:
        return None
    n = count_gpus()
    if n < 2:
        return None
    gpu = str(job_num % n)
    os.environ["CUDA_VISIBLE_DEVICES"] = gpu
    os.environ[_CLAIMED_ENV] = gpu
    log.info("multirun job %d: GPU %s of %d (CUDA_VISIBLE_DEVICES)", job_num, gpu, n)
    return gpu
