"""Host input-pipeline benchmark: numpy augmentation per sample on the host vs. gather + pad only.

From ONE run, on the same data (an in-memory cache: flat ``points`` / ``offsets`` arrays, as
``islr.data.LandmarkCache`` has; realistic skewed lengths, log-normal around ~30 frames with a
tail to several hundred, undetected hands), single-threaded in this process (= one core):

- numpy on the host, as islr trained before the batched layer: per sample drop all-NaN
  frames, augment with the numpy test oracle (``tests/augment_oracle.py``), pad;
- islr's path: ``SequenceBatches`` only gathers and pads; the augmentations run in the
  compiled training step (``islr.augment.BatchAugmentation``);
- their ratio, and, for information, what the batched augmentation costs per batch on this
  machine's CPU under the current Keras backend (on a GPU it is a small part of a step).

The two host paths are timed in alternating rounds (best round each), so that the load of a
shared machine hits both alike. The last line is ``host pipeline: <N> samples/s per core`` for
islr's path.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np

from islr.augment import AugmentSettings
from islr.augment.batched import BatchAugmentation
from islr.config import group_config
from islr.landmarks import N_POINTS
from islr.train.batch_plan import pad_length
from islr.train.gather import drop_empty_frames, pad_batch
from islr.train.pipeline import SequenceBatches

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from augment_oracle import augment, settings_of  # the numpy oracle (test code)


class FlatSequences:
    """An in-memory landmark cache: ``points [frames, 118, 3]``, ``offsets``, ``labels``."""

    def __init__(self, n: int, num_classes: int = 250, seed: int = 0, max_frames: int = 500):
        rng = np.random.default_rng(seed)
        lengths = np.clip(np.round(rng.lognormal(np.log(30), 0.75, size=n)), 2, max_frames)
        self.offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        self.labels = rng.integers(0, num_classes, size=n).astype(np.int32)
        total = int(self.offsets[-1])
        base = rng.uniform(0.2, 0.8, size=(1, N_POINTS, 3)).astype(np.float32)
        walk = rng.normal(0, 0.01, size=(total, 1, 3)).astype(np.float32)
        self.points = base + walk
        self.points[:, 21:42][rng.random(total) < 0.3] = np.nan  # a hand often missing
        self.points[rng.random(total) < 0.02] = np.nan  # a few frames with nothing detected
        self.lengths = np.diff(self.offsets)

    def __len__(self) -> int:
        return len(self.labels)

    def sequence(self, i: int) -> np.ndarray:
        return self.points[self.offsets[i] : self.offsets[i + 1]]


def time_batches(ds: SequenceBatches, batches: list[int]) -> float:
    """Samples per second of serving ``batches`` of ``ds`` in this thread."""
    t0 = time.perf_counter()
    samples = sum(len(ds[k][1]) for k in batches)
    return samples / (time.perf_counter() - t0)


def numpy_batch(ds: SequenceBatches, k: int, settings: AugmentSettings) -> np.ndarray:
    """Batch ``k`` of ``ds`` augmented per sample in numpy (``(seed, epoch, index)`` streams)."""
    seqs = []
    for p in ds.plan()[k]:
        i = int(ds.indices[p])
        seq = drop_empty_frames(np.asarray(ds.source.sequence(i), dtype=np.float32))
        rng = np.random.default_rng([ds.seed, ds.epoch, i])
        seqs.append(augment(seq, rng, settings))
    return pad_batch(seqs, pad_length(ds.boundaries, max(len(s) for s in seqs)))


def time_numpy(ds: SequenceBatches, batches: list[int], settings: AugmentSettings) -> float:
    """Samples per second of the numpy path on ``batches`` in this thread."""
    t0 = time.perf_counter()
    samples = sum(len(numpy_batch(ds, k, settings)) for k in batches)
    return samples / (time.perf_counter() - t0)


def device_step(layer: BatchAugmentation) -> Any:
    """A compiled ``x -> augmented x`` for the current backend."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        @jax.jit
        def step(state: Any, x: Any) -> Any:
            return layer.stateless_call([], state, x, training=True)

        holder = {"state": [v.value for v in layer.non_trainable_variables]}

        def run(x: Any) -> Any:
            out, holder["state"] = step(holder["state"], x)
            return out

        return run
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(lambda x: layer(x, training=True))
    return lambda x: layer(x, training=True)


def time_device(layer: BatchAugmentation, x: np.ndarray, repeats: int) -> float:
    """Seconds per batch of the compiled augmentation (compilation excluded)."""
    layer.build(x.shape)
    run = device_step(layer)
    xt = keras.ops.convert_to_tensor(x)
    keras.ops.convert_to_numpy(run(xt))
    t0 = time.perf_counter()
    for _ in range(repeats):
        out = run(xt)
    keras.ops.convert_to_numpy(out)
    return (time.perf_counter() - t0) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=8192, help="sequences in the data set")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--max-len", type=int, default=384)
    parser.add_argument("--batches", type=int, default=6, help="batches per path and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device-repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    source = FlatSequences(args.samples, seed=args.seed)
    print(
        f"backend {keras.backend.backend()}, {platform.processor() or platform.machine()}, "
        f"batch {args.batch_size}, max_len {args.max_len}, {args.samples} sequences (median "
        f"{int(np.median(source.lengths))} frames, p95 {int(np.percentile(source.lengths, 95))}, "
        f"max {source.lengths.max()})"
    )
    common = dict(
        batch_size=args.batch_size,
        max_len=args.max_len,
        training=True,
        seed=args.seed,
        boundaries=tuple(group_config("data", "kaggle").buckets),
    )
    settings = settings_of(max_len=args.max_len)  # conf/augment/default.yaml
    numpy_plan = SequenceBatches(source, np.arange(len(source)), **common)  # max_len window
    new = SequenceBatches(source, np.arange(len(source)), augmenter=settings, **common)
    t0 = time.perf_counter()
    new.frames.arrays()
    table_s = time.perf_counter() - t0
    n = min(args.batches, len(new), len(numpy_plan))
    rates: dict[str, list[float]] = {"numpy": [], "new": []}
    for r in range(args.rounds):
        batches = [(r * n + k) % len(new) for k in range(n)]
        rates["numpy"].append(time_numpy(numpy_plan, batches, settings))
        rates["new"].append(time_batches(new, batches))
    best = {k: max(v) for k, v in rates.items()}
    ratio = best["new"] / best["numpy"]

    print(f"\n{'host path (1 core)':<44}{'samples/s':>12}")
    print(f"{'numpy augmentation per sample':<44}{best['numpy']:>12.0f}")
    print(f"{'islr: host gathers + pads only':<44}{best['new']:>12.0f}")
    print(f"speed-up: {ratio:.1f}x samples/s per core (frame table built once in {table_s:.2f} s)")

    layer = BatchAugmentation.from_settings(settings, seed=args.seed)
    x, _ = new[0]
    seconds = time_device(layer, x, args.device_repeats)
    print(
        f"\nbatched augmentation on this CPU ({keras.backend.backend()}, compiled): "
        f"{seconds * 1e3:.1f} ms per batch of {x.shape[0]} x {x.shape[1]} frames = "
        f"{x.shape[0] / seconds:.0f} samples/s (for information: on a GPU it runs in the step)"
    )
    print(f"host pipeline: {best['new']:.0f} samples/s per core")


if __name__ == "__main__":
    main()
