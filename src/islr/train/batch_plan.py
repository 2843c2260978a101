"""Which samples go into which batch, and how long each batch is padded: length bucketing.

Training batches always hold exactly ``batch_size`` samples: samples are shuffled, grouped by
bucket (by their length) and cut into full batches; the remainders of all buckets are pooled,
sorted by length and cut again; the final partial batch (< batch_size samples) is dropped for
that epoch -- a different few samples each epoch, since the shuffle changes. The shuffle
derives from ``(seed, epoch)`` only, so a run resumed at epoch ``k`` sees exactly the batches an
uninterrupted run sees.

Evaluation batches visit every sample exactly once, in length order; the last batch is topped
up with copies of a real sample whose weight is 0 (:func:`with_fillers`), so metrics are exact
and the batch size is constant.

Batch shapes: with bucketing each batch is padded to the smallest bucket boundary that holds
its longest sequence, so the set of shapes is bounded by the boundaries (compiled steps are
reused under JAX/XLA). Without bucketing every batch is padded to ``max_len``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from islr.augment.settings import AugmentSettings


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


def host_window(max_len: int, augment: AugmentSettings | None) -> int:
    """Frames the host keeps per training sequence, for the augmentation in the training step.

    ``max_len`` without resampling; with it ``ceil(max_len / resample_scale[0])``, so that the
    step's crop after a slow-down still sees every frame it could keep (for sequences up to
    that long).
    """
    if augment is None or not augment.resamples:
        return int(max_len)
    low = float(augment.resample_scale[0])
    return max(int(max_len), math.ceil(int(max_len) / min(low, 1.0)))


def bucket_of(boundaries: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The index of the smallest boundary that holds each length (the last one for longer)."""
    return np.minimum(np.searchsorted(boundaries, lengths, side="left"), len(boundaries) - 1)


def pad_length(boundaries: np.ndarray, longest: int) -> int:
    """The padded length of a batch whose longest sequence has ``longest`` frames."""
    return int(boundaries[bucket_of(boundaries, np.asarray([longest]))[0]])


def train_batches(
    lengths: np.ndarray, boundaries: np.ndarray, batch_size: int, seed: int, epoch: int
) -> list[np.ndarray]:
    """One epoch's full training batches (positions into ``lengths``), shuffled from
    ``(seed, epoch)`` and bucketed by length (see the module docstring)."""
    rng = np.random.default_rng([seed, epoch, 0x5F1E])
    order = rng.permutation(len(lengths))
    buckets = bucket_of(boundaries, lengths[order])
    batches: list[np.ndarray] = []
    leftovers: list[np.ndarray] = []
    bs = batch_size
    for b in range(len(boundaries)):
        members = order[buckets == b]
        full = len(members) // bs * bs
        batches += [members[s : s + bs] for s in range(0, full, bs)]
        leftovers.append(members[full:])
    pool = np.concatenate(leftovers)
    pool = pool[np.argsort(lengths[pool], kind="stable")]
    full = len(pool) // bs * bs
    batches += [pool[s : s + bs] for s in range(0, full, bs)]
    perm = rng.permutation(len(batches))
    return [batches[p] for p in perm]


def eval_batches(lengths: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Every position exactly once, in length order, cut into batches (the last may be short)."""
    order = np.argsort(lengths, kind="stable")
    return [order[s : s + batch_size] for s in range(0, len(order), batch_size)]


def with_fillers(positions: np.ndarray, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """``positions`` topped up to ``batch_size`` with copies of the last one, and the sample
    weights (1 for the real rows, 0 for the fillers)."""
    real = len(positions)
    if real < batch_size:
        positions = np.concatenate([positions, np.repeat(positions[-1:], batch_size - real)])
    weights = np.ones(batch_size, dtype=np.float32)
    weights[real:] = 0.0
    return positions, weights
