"""Small helpers shared by the data modules (process pools, progress bars)."""

from __future__ import annotations

import multiprocessing as mp
import os
import sys

from tqdm.auto import tqdm


def mp_context():
    """``fork`` when safe, ``spawn`` once TensorFlow/JAX/torch threads may be running.

    Forking a process that already runs those runtimes' thread pools can deadlock the child.
    """
    heavy = any(m in sys.modules for m in ("tensorflow", "jax", "torch"))
    return mp.get_context("spawn" if heavy else "fork")


def default_workers(workers: int | None) -> int:
    """``workers`` if given, else the CPUs this process may use."""
    if workers is not None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        return workers
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def progress(total: int, enabled: bool, desc: str) -> tqdm:
    """A tqdm bar shown only when enabled and stderr is a terminal."""
    return tqdm(total=total, desc=desc, unit="file", disable=not (enabled and sys.stderr.isatty()))
