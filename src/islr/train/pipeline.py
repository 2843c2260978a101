"""Input pipeline: cached landmark sequences -> padded, length-bucketed batches.

Pure numpy on top of :class:`keras.utils.PyDataset` (no TensorFlow import), so the same code
feeds the TensorFlow and JAX backends, with optional worker threads/processes.

Per sample: frames whose 118 selected points are all NaN are dropped (a sequence left with no
frame is skipped and counted, never silently), the augmenter runs (training only; it includes
the random crop to ``max_len``), the sequence is truncated to ``max_len`` and padded at the END
of time with :data:`islr.landmarks.PAD_VALUE` in every value.

Batch shapes: with bucketing each batch is padded to the smallest bucket boundary that holds
its longest sequence, so the set of shapes is bounded by the boundaries (compiled steps are
reused under JAX/XLA). Without bucketing every batch is padded to ``max_len``.

Training batches always hold exactly ``batch_size`` samples: samples are shuffled, grouped by
bucket (by their length before augmentation) and cut into full batches; the remainders of all
buckets are pooled, sorted by length and cut again; the final partial batch (< batch_size
samples) is dropped for that epoch -- a different few samples each epoch, since the shuffle
changes. Evaluation batches visit every sample exactly once, in length order; the last batch is
topped up with copies of a real sample whose ``sample_weight`` is 0, so metrics are exact and
the batch size is constant.

The shuffle and every sample's augmentation seed derive from ``(seed, epoch, sample index)``
only, so a run resumed at epoch ``k`` sees exactly the batches an uninterrupted run sees.

Augmentation on the device: an augmenter whose ``on_device`` attribute is true
(``augment.on_device=true``) is not applied here. Training batches are then only gathered and
padded; the model's training wrapper augments them with
:class:`islr.augment.batched.BatchAugmentation` (which also does the random crop to
``max_len``). The host keeps up to :func:`host_window` frames per sequence (``max_len /
resample_scale[0]`` with resampling: what a slowed-down crop of ``max_len`` frames can span),
and the bucket boundaries extend to that window.

Several hosts (multi-host JAX, ``num_shards > 1``): every process plans the same global batches
(same seed) and serves only its rows ``[shard_index * B/P, (shard_index + 1) * B/P)`` of each
(``B = batch_size``, ``P = num_shards``); Keras' JAX trainer assembles the processes' rows into
one global batch. A bucketed batch is padded to the length its whole global batch needs, so
every host serves the same shape. Exception: with (enabled) augmentation on the host, the
augmented lengths of the other hosts' rows are unknown, so training batches are padded to
``max_len`` (keep bucketing with ``augment.on_device=true``). Evaluation filler rows are added
to the global batch before it is cut into shards: every sample is still evaluated exactly once.

Gather fast path: when the source exposes the cache's flat ``points`` / ``offsets`` arrays and no
augmenter runs on the host, each batch is one vectorised gather from a table of every sample's
kept frames (built once, on first use), instead of per-sample work: the same batches, a
fraction of the host time.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import keras
import numpy as np

from islr.landmarks import MAX_LEN, N_POINTS, PAD_VALUE

log = logging.getLogger(__name__)

DEFAULT_BOUNDARIES: tuple[int, ...] = (16, 32, 64, 128, 256, 384)


class SequenceSource(Protocol):
    """What the pipeline needs from a landmark cache (``islr.data.LandmarkCache`` fits)."""

    labels: np.ndarray

    def __len__(self) -> int: ...

    def sequence(self, i: int) -> np.ndarray: ...


def bucket_boundaries(
    boundaries: Sequence[int] | None, max_len: int, bucketing: bool = True
) -> tuple[int, ...]:
    """Sorted, de-duplicated padding lengths capped at ``max_len``; ``max_len`` is always last.

    Raises:
        ValueError: if ``max_len`` or a boundary is not a positive integer.
    """
    if int(max_len) < 1:
        raise ValueError(f"data.max_len must be >= 1, got {max_len}")
    if not bucketing or not boundaries:
        return (int(max_len),)
    values = [int(b) for b in boundaries]
    if any(b < 1 for b in values):
        raise ValueError(f"data.buckets must be positive integers, got {list(boundaries)}")
    kept = sorted({b for b in values if b < max_len} | {int(max_len)})
    return tuple(kept)


def count_valid_frames(source: SequenceSource, indices: Sequence[int] | None = None) -> np.ndarray:
    """Number of frames with at least one detected point, per sequence (in ``indices`` order).

    Uses the cache's flat ``points``/``offsets`` arrays when present (one vectorised pass),
    else ``source.sequence(i)`` per sample.
    """
    idx = np.arange(len(source)) if indices is None else np.asarray(indices, dtype=np.int64)
    points = getattr(source, "points", None)
    offsets = getattr(source, "offsets", None)
    if points is not None and offsets is not None and indices is None:
        offsets = np.asarray(offsets, dtype=np.int64)
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


def host_window(max_len: int, augmenter: Any) -> int:
    """Frames the host keeps per training sequence when ``augmenter`` runs on the device.

    ``max_len`` when the augmentations run on the host (or not at all); with on-device
    resampling ``ceil(max_len / resample_scale[0])``, so that the device's crop after a
    slow-down still sees every frame it could keep (for sequences up to that long).
    """
    if augmenter is None or not getattr(augmenter, "on_device", False):
        return int(max_len)
    if not getattr(augmenter, "enabled", True) or float(getattr(augmenter, "resample_p", 0)) == 0:
        return int(max_len)
    low = float(augmenter.resample_scale[0])
    return max(int(max_len), math.ceil(int(max_len) / min(low, 1.0)))


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


class _EpochSync(keras.callbacks.Callback):
    def __init__(self, dataset: SequenceBatches) -> None:
        super().__init__()
        self.dataset = dataset

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.dataset.set_epoch(epoch)


class SequenceBatches(keras.utils.PyDataset):
    """Batches of padded landmark sequences from a cache (train or eval mode).

    Args:
        source: the landmark cache (needs ``sequence(i)``, ``labels``, ``__len__``).
        indices: sample indices of this split.
        batch_size: samples per batch.
        max_len: frames kept per sequence.
        training: shuffle, augment and drop the remainder (True) or visit every sample once
            with weights (False; batches are ``(x, y, sample_weight)``).
        augmenter: ``callable(x [T,118,3], rng) -> [T',118,3]`` applied in training only; one
            with ``on_device=True`` is not applied (see the module docstring).
        seed: base seed of the shuffle and the per-sample augmentation streams.
        boundaries: bucket boundaries (padding lengths); capped at ``max_len``.
        bucketing: False pads every batch to ``max_len``.
        valid_lengths: frames left per sample after dropping all-NaN frames (same order as
            ``indices``); computed when omitted.
        initial_epoch: the epoch the first pass belongs to (resume).
        max_batches: serve at most this many batches per pass (debug runs); None = all.
        workers, use_multiprocessing, max_queue_size: see ``keras.utils.PyDataset``.
        num_shards, shard_index: serve only this process's share of every global batch
            (multi-host; see the module docstring). ``batch_size`` stays the global batch.
    """

    def __init__(
        self,
        source: SequenceSource,
        indices: Sequence[int],
        *,
        batch_size: int,
        max_len: int = MAX_LEN,
        training: bool = False,
        augmenter: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None,
        seed: int = 0,
        boundaries: Sequence[int] | None = DEFAULT_BOUNDARIES,
        bucketing: bool = True,
        valid_lengths: Sequence[int] | None = None,
        initial_epoch: int = 0,
        max_batches: int | None = None,
        workers: int = 1,
        use_multiprocessing: bool = False,
        max_queue_size: int = 10,
        num_shards: int = 1,
        shard_index: int = 0,
    ) -> None:
        super().__init__(
            workers=workers, use_multiprocessing=use_multiprocessing, max_queue_size=max_queue_size
        )
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.source = source
        self.training = bool(training)
        self.augment_on_device = bool(getattr(augmenter, "on_device", False))
        self.augmenter = None if self.augment_on_device else augmenter
        # Frames kept per sequence: more than max_len when the device crops after resampling.
        self.max_len = host_window(max_len, augmenter) if self.training else int(max_len)
        self.seed = int(seed)
        self.boundaries = np.asarray(bucket_boundaries(boundaries, self.max_len, bucketing))
        self.epoch = int(initial_epoch)
        if max_batches is not None and int(max_batches) < 1:
            raise ValueError(f"max_batches must be >= 1 or None, got {max_batches}")
        self.max_batches = None if max_batches is None else int(max_batches)
        # TF backend only: see ``tf_spec_probe`` in __getitem__.
        self.tf_spec_probe = False

        indices = np.asarray(indices, dtype=np.int64)
        if valid_lengths is None:
            valid_lengths = count_valid_frames(source, indices)
        valid_lengths = np.asarray(valid_lengths, dtype=np.int64)
        if valid_lengths.shape != indices.shape:
            raise ValueError("valid_lengths must have one entry per index")
        empty = valid_lengths == 0
        self.skipped = indices[empty]
        if empty.any():
            log.warning(
                "%d of %d sequences have no frame with any detected landmark; skipped",
                int(empty.sum()),
                len(indices),
            )
        self.indices = indices[~empty]
        self.lengths = np.minimum(valid_lengths[~empty], self.max_len)
        if len(self.indices) == 0:
            raise ValueError("no usable sequence in this split (all empty or no samples)")
        self.batch_size = min(int(batch_size), len(self.indices))
        if self.batch_size < int(batch_size):
            log.warning(
                "split has only %d usable samples: batch size %d -> %d",
                len(self.indices),
                batch_size,
                self.batch_size,
            )
        self.num_shards, self.shard_index = int(num_shards), int(shard_index)
        if not 0 <= self.shard_index < self.num_shards:
            raise ValueError(f"shard_index={shard_index} not in 0..{num_shards - 1}")
        if self.batch_size % self.num_shards:
            raise ValueError(
                f"batch size {self.batch_size} does not split into {self.num_shards} shards"
            )
        self.labels = np.asarray(source.labels)[self.indices].astype(np.int32)
        self._plan_epoch: int | None = None
        self._plan: list[np.ndarray] = []
        self._plan_lock = threading.Lock()
        self._frame_table: tuple[np.ndarray, np.ndarray] | None = None
        self._table_lock = threading.Lock()
        if not self.training:
            self._plan = self._eval_plan()
            self._plan_epoch = -1

    # --- planning ---------------------------------------------------------------------------
    def _bucket_of(self, lengths: np.ndarray) -> np.ndarray:
        return np.minimum(
            np.searchsorted(self.boundaries, lengths, side="left"), len(self.boundaries) - 1
        )

    def _eval_plan(self) -> list[np.ndarray]:
        order = np.argsort(self.lengths, kind="stable")
        return [order[s : s + self.batch_size] for s in range(0, len(order), self.batch_size)]

    def _train_plan(self, epoch: int) -> list[np.ndarray]:
        rng = np.random.default_rng([self.seed, epoch, 0x5F1E])
        order = rng.permutation(len(self.indices))
        buckets = self._bucket_of(self.lengths[order])
        batches: list[np.ndarray] = []
        leftovers: list[np.ndarray] = []
        bs = self.batch_size
        for b in range(len(self.boundaries)):
            members = order[buckets == b]
            full = len(members) // bs * bs
            batches += [members[s : s + bs] for s in range(0, full, bs)]
            leftovers.append(members[full:])
        pool = np.concatenate(leftovers)
        pool = pool[np.argsort(self.lengths[pool], kind="stable")]
        full = len(pool) // bs * bs
        batches += [pool[s : s + bs] for s in range(0, full, bs)]
        perm = rng.permutation(len(batches))
        return [batches[p] for p in perm]

    def plan(self) -> list[np.ndarray]:
        """This epoch's batches as arrays of positions into ``self.indices``."""
        if self.training:
            with self._plan_lock:
                if self._plan_epoch != self.epoch:
                    self._plan = self._train_plan(self.epoch)
                    self._plan_epoch = self.epoch
        return self._plan

    # --- PyDataset API ------------------------------------------------------------------------
    @property
    def num_batches(self) -> int:
        if self.training:
            n = len(self.indices) // self.batch_size
        else:
            n = math.ceil(len(self.indices) / self.batch_size)
        return n if self.max_batches is None else min(n, self.max_batches)

    def __len__(self) -> int:
        return self.num_batches

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose shuffle/augmentation the next pass uses."""
        self.epoch = int(epoch)

    def on_epoch_end(self) -> None:
        # Standalone use: the next pass is the next epoch. Under ``fit`` the trainer's
        # EpochSync callback sets the epoch explicitly (Keras also calls this once before the
        # first epoch, and restarts worker pools at epoch begin before on_epoch_begin runs).
        if self.training:
            self.epoch += 1

    def epoch_callback(self) -> keras.callbacks.Callback:
        """A callback that sets this dataset's epoch from ``fit``'s epoch number.

        Keras runs callbacks' ``on_epoch_begin`` before it starts fetching the epoch's batches
        (and before it starts worker pools), so every batch of fit epoch ``e`` comes from the
        plan of epoch ``e`` -- also after a resume with ``initial_epoch``. Pass ``shuffle=False``
        to ``fit``: this dataset shuffles itself, deterministically.
        """
        return _EpochSync(self)

    def load_sample(self, position: int) -> np.ndarray:
        """One sample (position into ``self.indices``), NaN-only frames dropped, augmented in
        training with its own ``(seed, epoch, index)`` stream, truncated to ``max_len``."""
        i = int(self.indices[position])
        seq = drop_empty_frames(np.asarray(self.source.sequence(i), dtype=np.float32))
        if self.training and self.augmenter is not None:
            rng = np.random.default_rng([self.seed, self.epoch, i])
            seq = np.asarray(self.augmenter(seq, rng), dtype=np.float32)
        return seq[: self.max_len]

    # --- gather fast path --------------------------------------------------------------------
    @property
    def gathers_in_batch(self) -> bool:
        """True when batches come from one vectorised gather (see the module docstring)."""
        host_augments = self.training and self.augmenter is not None
        return (
            not host_augments
            and getattr(self.source, "points", None) is not None
            and getattr(self.source, "offsets", None) is not None
        )

    def frame_table(self) -> tuple[np.ndarray, np.ndarray]:
        """``(frames, starts)``: the flat ``points`` rows of every sample's kept frames
        (all-NaN frames dropped, at most ``max_len``), sample ``p`` (a position into
        ``self.indices``) owning ``frames[starts[p]:starts[p + 1]]``. Built once, in chunks."""
        with self._table_lock:
            if self._frame_table is None:
                self._frame_table = self._build_frame_table()
        return self._frame_table

    def _build_frame_table(self) -> tuple[np.ndarray, np.ndarray]:
        points = self.source.points  # type: ignore[attr-defined]
        offsets = np.asarray(self.source.offsets, dtype=np.int64)  # type: ignore[attr-defined]
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
        return frames, np.concatenate([[0], np.cumsum(counts)])

    def _gather(self, positions: np.ndarray, length: int | None) -> np.ndarray:
        """The padded batch of ``positions`` from the frame table (``length``: pad length,
        ``None``: the bucket of the longest).

        Every value of the batch is written once: a sample's frames are one slice copy when
        they are consecutive rows of ``points`` (no all-NaN frame dropped), else one ``take``;
        then its padding. (Measured faster than a vectorised fill + scatter, which writes the
        real frames twice and builds large index arrays.)
        """
        frames, starts = self.frame_table()
        points = self.source.points  # type: ignore[attr-defined]
        begin = starts[positions]
        counts = starts[positions + 1] - begin
        if length is None:
            length = self._pad_length_of(int(counts.max()))
        counts = np.minimum(counts, length)
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

    def _pad_length_of(self, longest: int) -> int:
        if self.training and self.num_batches == 1:
            # A single batch can't give the TF spec probe two shapes; keep its shape fixed.
            return int(self.boundaries[-1])
        return int(self.boundaries[self._bucket_of(np.asarray([longest]))[0]])

    def _pad_length(self, seqs: Sequence[np.ndarray]) -> int:
        return self._pad_length_of(max(len(s) for s in seqs))

    def __getitem__(self, idx: int) -> tuple[np.ndarray, ...]:
        plan = self.plan()
        if idx < 0 or idx >= self.num_batches:
            raise IndexError(f"batch {idx} out of range (0..{self.num_batches - 1})")
        positions = plan[idx]
        real = len(positions)
        if not self.training and real < self.batch_size:
            # filler rows (weight 0): copies of the last real sample, in the global batch
            positions = np.concatenate(
                [positions, np.repeat(positions[-1:], self.batch_size - real)]
            )
        length: int | None = None
        if self.num_shards > 1:  # one padded length for the whole global batch, on every host
            host_augments = (
                self.training
                and self.augmenter is not None
                and getattr(self.augmenter, "enabled", True)  # disabled: lengths unchanged
            )
            longest = int(self.lengths[positions].max())
            length = int(self.boundaries[-1]) if host_augments else self._pad_length_of(longest)
        if (
            self.tf_spec_probe
            and self.num_batches > 1
            and threading.current_thread() is threading.main_thread()
        ):
            # Keras' TF adapter infers a fixed tf.data signature from batches 0 and 1, fetched
            # on the main thread before training; give them different lengths so the time
            # axis stays dynamic (these probe batches are never trained on).
            length = int(self.boundaries[0] if idx == 0 else self.boundaries[-1])
        w = np.ones(self.batch_size, dtype=np.float32)
        w[real:] = 0.0
        if self.num_shards > 1:
            rows = self.batch_size // self.num_shards
            mine = slice(self.shard_index * rows, (self.shard_index + 1) * rows)
            positions, w = positions[mine], w[mine]
        if self.gathers_in_batch:
            x = self._gather(np.asarray(positions, dtype=np.int64), length)
        else:
            seqs = [self.load_sample(p) for p in positions]
            x = pad_batch(seqs, self._pad_length(seqs) if length is None else length)
        y = self.labels[positions]
        if self.training:
            return x, y
        return x, y, w

    def iter_numpy(self) -> Any:
        """Iterate this epoch's batches in order without Keras (evaluation, benchmarks)."""
        for i in range(len(self)):
            yield self[i]
