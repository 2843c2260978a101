"""Small helpers shared by the data modules (process pools, progress bars)."""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager

from tqdm.auto import tqdm

_START_METHOD_LOCK = threading.Lock()


def _mp_context():
    """``fork`` when safe, ``spawn`` once TensorFlow/JAX/torch threads may be running.

    Forking a process that already runs those runtimes' thread pools can deadlock the child.
    """
    heavy = any(m in sys.modules for m in ("tensorflow", "jax", "torch"))
    return mp.get_context("spawn" if heavy else "fork")


@contextmanager
def _children_start_with(method: str) -> Iterator[None]:
    """Make ``method`` this process's default start method while the block runs, if the
    current default is one a fresh interpreter does not know.

    A spawned child first sets the start method its parent reported as the default. Inside a
    worker of a launcher with its own method (joblib's ``loky``, under Hydra's joblib launcher)
    that is ``loky``, which the child has not imported: it dies with "cannot find context for
    'loky'" and the pool breaks. ``forkserver`` children read the same report and fail alike.
    """
    current = mp.get_start_method(allow_none=True)
    if current is None or current in mp.get_all_start_methods():
        yield
        return
    with _START_METHOD_LOCK:
        mp.set_start_method(method, force=True)
        try:
            yield
        finally:
            mp.set_start_method(current, force=True)


@contextmanager
def process_pool(workers: int) -> Iterator[ProcessPoolExecutor]:
    """A pool of ``workers`` processes that starts from any process: a plain one, one that
    runs TensorFlow, or a worker of a parallel launcher (see :func:`_mp_context`)."""
    context = _mp_context()
    with (
        _children_start_with(context.get_start_method()),
        ProcessPoolExecutor(workers, mp_context=context) as pool,
    ):
        yield pool


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


def progress(total: int, enabled: bool, desc: str, unit: str = "file") -> tqdm:
    """A tqdm bar of ``total`` ``unit``s, shown only when enabled and stderr is a terminal."""
    return tqdm(total=total, desc=desc, unit=unit, disable=not (enabled and sys.stderr.isatty()))
