"""From a landmark source to padded batches: the kept frames of every sample, gathered per batch.

Per sample, frames whose 118 selected points are all NaN are dropped and at most ``max_len``
frames are kept; a batch holds its samples at the start of time, padded at the END with
:data:`islr.landmarks.PAD_VALUE` in every value.

A :class:`FrameTable` lists, once, the rows of every sample's kept frames in one flat array of
frames: the cache's own ``points`` (a memmap) when the source exposes its flat ``points`` /
``offsets`` arrays, else the source's sequences copied into one array. Each batch is then a
few slice copies from it.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from islr.landmarks import N_POINTS, PAD_VALUE


class SequenceSource(Protocol):
    """What the pipeline needs from a landmark cache (``islr.data.LandmarkCache`` fits)."""

    labels: np.ndarray

    def __len__(self) -> int: ...

    def sequence(self, i: int) -> np.ndarray: ...


def _flat_arrays(source: Any) -> tuple[Any, np.ndarray] | None:
    points = getattr(source, "points", None)
    offsets = getattr(source, "offsets", None)
    if points is None or offsets is None:
        return None
    return points, np.asarray(offsets, dtype=np.int64)


def count_valid_frames(source: SequenceSource, indices: Sequence[int] | None = None) -> np.ndarray:
    """Number of frames with at least one detected point, per sequence (in ``indices`` order).

    Uses the cache's flat ``points``/``offsets`` arrays when present (one vectorised pass),
    else ``source.sequence(i)`` per sample.
    """
    idx = np.arange(len(source)) if indices is None else np.asarray(indices, dtype=np.int64)
    flat = _flat_arrays(source)
    if flat is not None and indices is None:
        points, offsets = flat
        valid = np.empty(points.shape[0], dtype=np.int64)
        step = 1 << 16  # frames per chunk: bounded memory on a memmap of millions of frames
        for start in range(0, points.shape[0], step):
            chunk = np.asarray(points[start : start + step])
            valid[start : start + step] = ~np.isnan(chunk).all(axis=(1, 2))
        csum = np.concatenate([[0], np.cumsum(valid)])
        return (csum[offsets[1:]] - csum[offsets[:-1]]).astype(np.int64)
    out = np.empty(len(idx), dtype=np.int64)
    for k, i in enumerate(idx):
        seq = source.sequence(int(i))
        out[k] = int((~np.isnan(seq).all(axis=(1, 2))).sum()) if len(seq) else 0
    return out


def drop_empty_frames(seq: np.ndarray) -> np.ndarray:
    """Remove frames whose points are all NaN (nothing detected)."""
    keep = ~np.isnan(seq).all(axis=(1, 2))
    return seq if keep.all() else seq[keep]


def pad_batch(seqs: Sequence[np.ndarray], length: int, pad_value: float = PAD_VALUE) -> np.ndarray:
    """Stack ``[T_i, 118, 3]`` sequences into ``[B, length, 118, 3]``, padded at the end."""
    out = np.full((len(seqs), length, N_POINTS, 3), pad_value, dtype=np.float32)
    for b, s in enumerate(seqs):
        n = min(len(s), length)
        out[b, :n] = s[:n]
    return out


class FrameTable:
    """The kept frames of the samples ``indices`` of ``source``, built once on first use.

    Sample ``p`` (a position into ``indices``) owns rows ``frames[starts[p]:starts[p + 1]]`` of
    ``points``: its frames with a detected point, at most ``max_len``. Thread-safe.
    """

    def __init__(self, source: SequenceSource, indices: np.ndarray, max_len: int) -> None:
        self.source = source
        self.indices = np.asarray(indices, dtype=np.int64)
        self.max_len = int(max_len)
        self._built: tuple[Any, np.ndarray, np.ndarray] | None = None
        self._lock = threading.Lock()

    def arrays(self) -> tuple[Any, np.ndarray, np.ndarray]:
        """``(points, frames, starts)`` (see the class docstring); built on the first call."""
        with self._lock:
            if self._built is None:
                flat = _flat_arrays(self.source)
                self._built = self._from_flat(*flat) if flat is not None else self._copied()
        return self._built

    def _copied(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        seqs = [
            drop_empty_frames(np.asarray(self.source.sequence(int(i)), dtype=np.float32))
            for i in self.indices
        ]
        seqs = [s[: self.max_len] for s in seqs]
        counts = np.array([len(s) for s in seqs], dtype=np.int64)
        points = np.concatenate(seqs) if seqs else np.zeros((0, N_POINTS, 3), np.float32)
        return points, np.arange(len(points)), np.concatenate([[0], np.cumsum(counts)])

    def _from_flat(self, points: Any, offsets: np.ndarray) -> tuple[Any, np.ndarray, np.ndarray]:
        parts: list[np.ndarray] = []
        counts = np.empty(len(self.indices), dtype=np.int64)
        chunk = 1024
        for c in range(0, len(self.indices), chunk):
            idx = self.indices[c : c + chunk]
            begin, end = offsets[idx], offsets[idx + 1]
            n = end - begin
            rows = np.repeat(begin - np.cumsum(n) + n, n) + np.arange(n.sum())
            keep = ~np.isnan(np.asarray(points[rows])).all(axis=(1, 2))
            owner = np.repeat(np.arange(len(idx)), n)
            rank = np.cumsum(keep) - 1  # rank of a kept frame among all kept frames here
            first = np.concatenate([[0], np.cumsum(np.bincount(owner[keep], minlength=len(idx)))])
            within = rank - first[owner]  # rank of a kept frame inside its own sequence
            take = keep & (within < self.max_len)
            parts.append(rows[take])
            counts[c : c + chunk] = np.bincount(owner[take], minlength=len(idx))
        frames = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        return points, frames, np.concatenate([[0], np.cumsum(counts)])

    def counts(self, positions: np.ndarray) -> np.ndarray:
        """Kept frames of each sample at ``positions``."""
        _, _, starts = self.arrays()
        return starts[positions + 1] - starts[positions]

    def gather(self, positions: np.ndarray, length: int) -> np.ndarray:
        """The batch ``[len(positions), length, 118, 3]`` of these samples, padded at the end.

        Every value is written once: a sample's frames are one slice copy when they are
        consecutive rows of ``points`` (no all-NaN frame dropped), else one ``take``; then its
        padding. (Measured faster than a vectorised fill + scatter, which writes the real
        frames twice and builds large index arrays.)
        """
        points, frames, starts = self.arrays()
        begin = starts[positions]
        counts = np.minimum(starts[positions + 1] - begin, length)
        out = np.empty((len(positions), length, N_POINTS, 3), dtype=np.float32)
        for b, (s, n) in enumerate(zip(begin.tolist(), counts.tolist(), strict=True)):
            if n:
                first = int(frames[s])
                if int(frames[s + n - 1]) - first == n - 1:
                    out[b, :n] = points[first : first + n]
                else:
                    np.take(points, frames[s : s + n], axis=0, out=out[b, :n])
            out[b, n:] = PAD_VALUE
        return out
