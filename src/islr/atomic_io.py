"""Atomic file writes: write a unique temporary sibling, flush it to disk, rename it into place.

A failure part-way (a full disk, a kill) leaves the previous file untouched and no debris:
the rename is atomic on one filesystem, and the temporary file is removed on any error.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "atomic_path",
    "exclusive_lock",
    "fsync_file",
    "json_default",
    "temp_sibling",
    "write_bytes_atomic",
    "write_json_atomic",
    "write_text_atomic",
]

_CHUNK = 1 << 20


def temp_sibling(path: str | Path, suffix: str = "") -> Path:
    """A unique temporary name beside ``path`` (same directory, so the rename stays atomic).

    ``suffix`` is appended after the unique part, for writers that insist on an extension
    (``.keras``, ``.weights.h5``, ``.npy``).
    """
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp{suffix}")


def fsync_file(path: str | Path) -> None:
    """Flush ``path``'s content to disk (before renaming it into place)."""
    with open(path, "rb") as f:
        os.fsync(f.fileno())


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path to write ``path`` through; publish it only if the block succeeds.

    Example::

        with atomic_path(ckpt, suffix=".keras") as tmp:
            network.save(tmp)
    """
    path = Path(path)
    tmp = temp_sibling(path, suffix)
    try:
        yield tmp
        fsync_file(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # after a successful replace there is nothing left


def _write_all(f, data: bytes) -> None:
    """The low-level write (in chunks, so a full disk fails part-way like a real writer)."""
    view = memoryview(data)
    for start in range(0, len(view), _CHUNK):
        f.write(view[start : start + _CHUNK])


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        _write_all(f, data)
        f.flush()


def write_text_atomic(path: str | Path, text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically."""
    write_bytes_atomic(path, text.encode(encoding))


def json_default(obj: Any) -> Any:
    """``json.dumps``' ``default`` for numpy scalars and arrays (metrics, histories)."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def write_json_atomic(path: str | Path, payload: Any) -> None:
    """Write ``payload`` as indented JSON to ``path`` atomically (numpy values included)."""
    write_text_atomic(path, json.dumps(payload, indent=2, default=json_default) + "\n")


@contextlib.contextmanager
def exclusive_lock(path: str | Path, on_wait: Callable[[], object] | None = None) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if absent) between processes (POSIX flock).

    Writers that publish a shared file (a cache, an extraction index, a tracking store) take
    it, so concurrent processes never interleave their writes. The kernel releases the lock
    when its holder dies, so a killed writer never blocks the next one.

    Args:
        on_wait: called once, before waiting, when another process holds the lock.
    """
    import fcntl  # POSIX only: imported here so the module still imports elsewhere

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait()
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
