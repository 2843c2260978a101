"""Input pipeline: cached landmark sequences -> padded, length-bucketed batches, as a PyDataset.

Pure numpy on top of :class:`keras.utils.PyDataset` (no TensorFlow import), so the same code
feeds the TensorFlow and JAX backends, with optional worker threads/processes. The parts:
:mod:`islr.train.batch_plan` (which samples form a batch, its padded length),
:mod:`islr.train.gather` (a batch's frames from the cache), :mod:`islr.train.sharding`
(several hosts). The augmentations run later, inside the compiled training step
(:class:`islr.augment.BatchAugmentation`, which also crops to ``max_len``): for them the host
keeps up to :func:`islr.train.batch_plan.host_window` frames per training sequence
(``max_len / resample_scale[0]`` with resampling: what a slowed-down crop of ``max_len`` frames
can span), and the bucket boundaries extend to that window.
"""

from __future__ import annotations

import logging
import math
import sys
import threading
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from islr.augment.settings import AugmentSettings
from islr.train import batch_plan
from islr.train.batch_plan import bucket_boundaries, host_window
from islr.train.gather import FrameTable, SequenceSource, count_valid_frames
from islr.train.sharding import Shard

log = logging.getLogger(__name__)

__all__ = ["SequenceBatches", "SequenceSource"]


def _fetched_for_tf_signature() -> bool:
    """Whether the batch being fetched is one Keras' TF adapter reads to infer its signature
    (``PyDatasetAdapter.get_tf_dataset``, a few frames up the stack)."""
    frame = sys._getframe(2)
    for _ in range(4):
        if frame is None:
            return False
        if frame.f_code.co_name == "get_tf_dataset" and "keras" in frame.f_code.co_filename:
            return True
        frame = frame.f_back
    return False


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
        batch_size: samples per batch (the global batch with several shards).
        max_len: frames kept per sequence.
        training: shuffle and drop the remainder (True; batches are ``(x, y)``) or visit
            every sample once with weights (False; batches are ``(x, y, sample_weight)``).
        augmenter: the augmentation settings the training step applies (only the frames
            they need are read here: see the module docstring); None: none.
        seed: base seed of the shuffle.
        boundaries: bucket boundaries (padding lengths); capped at ``max_len``.
        bucketing: False pads every batch to ``max_len``.
        valid_lengths: frames left per sample after dropping all-NaN frames (same order as
            ``indices``); computed when omitted.
        initial_epoch: the epoch the first pass belongs to (resume).
        max_batches: serve at most this many batches per pass (debug runs); None = all.
        workers: threads or processes that prepare batches (see ``keras.utils.PyDataset``).
        use_multiprocessing: workers are processes, not threads (see ``keras.utils.PyDataset``).
        max_queue_size: batches prepared ahead (see ``keras.utils.PyDataset``).
        num_shards: processes that share every global batch (multi-host; see
            :mod:`islr.train.sharding`); this one serves only its share.
        shard_index: which of the ``num_shards`` shares this process serves.
    """

    def __init__(
        self,
        source: SequenceSource,
        indices: Sequence[int],
        *,
        batch_size: int,
        max_len: int,
        training: bool = False,
        augmenter: AugmentSettings | None = None,
        seed: int = 0,
        boundaries: Sequence[int] | None,
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
        if augmenter is not None and not isinstance(augmenter, AugmentSettings):
            raise TypeError(
                f"augmenter: expected islr.augment.AugmentSettings or None, got "
                f"{type(augmenter).__name__}"
            )
        self.source = source
        self.training = bool(training)
        # Frames kept per sequence: more than max_len when the step crops after resampling.
        self.max_len = host_window(max_len, augmenter) if self.training else int(max_len)
        self.seed = int(seed)
        self.boundaries = np.asarray(bucket_boundaries(boundaries, self.max_len, bucketing))
        self.epoch = int(initial_epoch)
        if max_batches is not None and int(max_batches) < 1:
            raise ValueError(f"max_batches must be >= 1 or None, got {max_batches}")
        self.max_batches = None if max_batches is None else int(max_batches)
        # Keras' TensorFlow adapter fixes a tf.data signature (see _probe_length); the other
        # backends take each batch's shape as it comes.
        self._tf_signature = keras.backend.backend() == "tensorflow"

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
        self.shard = Shard(int(num_shards), int(shard_index))
        self.shard.check(self.batch_size)
        self.labels = np.asarray(source.labels)[self.indices].astype(np.int32)
        self.frames = FrameTable(source, self.indices, self.max_len)
        self._plan_epoch: int | None = None
        self._plan: list[np.ndarray] = []
        self._plan_lock = threading.Lock()
        if not self.training:
            self._plan = batch_plan.eval_batches(self.lengths, self.batch_size)
            self._plan_epoch = -1

    def plan(self) -> list[np.ndarray]:
        """This epoch's batches as arrays of positions into ``self.indices``."""
        if self.training:
            with self._plan_lock:
                if self._plan_epoch != self.epoch:
                    self._plan = batch_plan.train_batches(
                        self.lengths, self.boundaries, self.batch_size, self.seed, self.epoch
                    )
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
        """Select the epoch whose shuffle the next pass uses."""
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

    def _probe_length(self, idx: int) -> int | None:
        """The padded length Keras' TensorFlow adapter needs for batch ``idx``, else None.

        That adapter infers a fixed tf.data signature from batches 0 and 1, fetched before
        training: when it fetches them they get different lengths, so the time axis stays
        dynamic (those two batches only give the signature; they are never trained on). A
        single training batch cannot give two shapes: it keeps the largest one, always.
        """
        if not self._tf_signature:
            return None
        if self.num_batches == 1:
            return int(self.boundaries[-1]) if self.training else None
        if idx < 2 and _fetched_for_tf_signature():
            return int(self.boundaries[0] if idx == 0 else self.boundaries[-1])
        return None

    def __getitem__(self, idx: int) -> tuple[np.ndarray, ...]:
        plan = self.plan()
        if idx < 0 or idx >= self.num_batches:
            raise IndexError(f"batch {idx} out of range (0..{self.num_batches - 1})")
        positions = plan[idx]
        if self.training:
            w = np.ones(len(positions), dtype=np.float32)
        else:  # filler rows (weight 0) are part of the global batch
            positions, w = batch_plan.with_fillers(positions, self.batch_size)
        length = self._probe_length(idx)
        if length is None:  # from the whole global batch: every host serves the same shape
            length = batch_plan.pad_length(self.boundaries, int(self.lengths[positions].max()))
        if self.shard.is_sharded:
            mine = self.shard.rows(self.batch_size)
            positions, w = positions[mine], w[mine]
        x = self.frames.gather(np.asarray(positions, dtype=np.int64), length)
        y = self.labels[positions]
        if self.training:
            return x, y
        return x, y, w

    def iter_numpy(self) -> Any:
        """Iterate this epoch's batches in order without Keras (evaluation, benchmarks)."""
        for i in range(len(self)):
            yield self[i]
