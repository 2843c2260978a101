"""Training-speed benchmark: length bucketing vs padding everything to max_len, from ONE run.

Same model (``reference`` by default), same sequences (synthetic, realistic skewed lengths:
log-normal around ~30 frames with a tail to several hundred, like the Kaggle clips), same
machine and backend. Prints, side by side:

- training step throughput (samples/s) and the estimated epoch time, with bucketing and with
  every batch padded to max_len, and their ratio;
- the input pipeline alone (cache -> padded batches; the augmentations run in the step):
  batches/s and samples/s.

Runs under any Keras backend (``KERAS_BACKEND=jax python bench/bench_train.py``). Compilation
is excluded: every distinct batch shape is run once before timing. Keep CPU runs short with
``--steps``/``--batch-size``; on a GPU raise them.
"""

from __future__ import annotations

import argparse
import platform
import time

import keras
import numpy as np

from islr.landmarks import N_POINTS
from islr.train.pipeline import SequenceBatches


class SyntheticSequences:
    """In-memory ``[T, 118, 3]`` sequences with realistic lengths (the pipeline's source API)."""

    def __init__(self, n: int, num_classes: int, seed: int = 0, max_frames: int = 500) -> None:
        rng = np.random.default_rng(seed)
        lengths = np.clip(np.round(rng.lognormal(np.log(30), 0.75, size=n)), 2, max_frames)
        self.lengths = lengths.astype(int)
        self.labels = rng.integers(0, num_classes, size=n).astype(np.int32)
        base = rng.uniform(0.2, 0.8, size=(N_POINTS, 3)).astype(np.float32)
        self._seqs = []
        for t in self.lengths:
            walk = np.cumsum(rng.normal(0, 0.003, size=(t, 1, 3)), axis=0).astype(np.float32)
            seq = base + walk
            seq[:, 21:42][rng.random(t) < 0.3] = np.nan  # a hand often missing
            self._seqs.append(seq)

    def __len__(self) -> int:
        return len(self._seqs)

    def sequence(self, i: int) -> np.ndarray:
        return self._seqs[i]


def shipped_buckets() -> tuple[int, ...]:
    """``data.buckets`` of conf/data/kaggle.yaml."""
    from islr.config import group_config

    return tuple(group_config("data", "kaggle").buckets)


def build(model_name: str, num_classes: int, max_len: int) -> keras.Model:
    from hydra.utils import instantiate

    from islr.config import group_config, network_config

    # conf/model/<model_name>.yaml, with what the trainer passes.
    net = instantiate(
        network_config(group_config("model", model_name)),
        max_len=max_len,
        num_classes=num_classes,
        late_dropout_start_step=0,
    )
    net.compile(
        optimizer=keras.optimizers.AdamW(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return net


def time_training(model: keras.Model, ds: SequenceBatches, steps: int) -> dict[str, float]:
    """Train on the epoch's first ``steps`` batches (a random sample of its shapes)."""
    batches = [ds[k] for k in range(min(steps, len(ds)))]
    shapes = sorted({b[0].shape[1] for b in batches})
    for length in shapes:  # compile every shape before timing
        x, y = next(b for b in batches if b[0].shape[1] == length)
        model.train_on_batch(x, y)
    t0 = time.perf_counter()
    for x, y in batches:
        loss = model.train_on_batch(x, y)
    keras.ops.convert_to_numpy(loss)  # wait for asynchronous backends
    seconds = time.perf_counter() - t0
    samples = sum(len(b[1]) for b in batches)
    return {
        "samples_per_s": samples / seconds,
        "epoch_s": seconds / len(batches) * len(ds),
        "mean_frames": float(np.mean([b[0].shape[1] for b in batches])),
        "shapes": len(shapes),
    }


def time_pipeline(ds: SequenceBatches, n_batches: int) -> dict[str, float]:
    t0 = time.perf_counter()
    n = min(n_batches, len(ds))
    samples = sum(len(ds[k][1]) for k in range(n))
    seconds = time.perf_counter() - t0
    return {"batches_per_s": n / seconds, "samples_per_s": samples / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=["reference", "tiny"], default="reference")
    parser.add_argument("--samples", type=int, default=2048, help="sequences in the data set")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=6, help="timed training steps per mode")
    parser.add_argument("--max-len", type=int, default=384)
    parser.add_argument("--pipeline-batches", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    num_classes = 250
    source = SyntheticSequences(args.samples, num_classes, seed=args.seed)
    print(
        f"backend {keras.backend.backend()}, {platform.processor() or platform.machine()}, "
        f"model {args.model}, batch {args.batch_size}, {args.samples} sequences "
        f"(median {int(np.median(source.lengths))} frames, p95 "
        f"{int(np.percentile(source.lengths, 95))}, max {source.lengths.max()})"
    )
    idx = np.arange(len(source))
    common = dict(batch_size=args.batch_size, max_len=args.max_len, training=True, seed=args.seed)
    results = {}
    for mode, bucketing in (("bucketing", True), ("pad to max_len", False)):
        ds = SequenceBatches(
            source, idx, boundaries=shipped_buckets(), bucketing=bucketing, **common
        )
        keras.backend.clear_session()
        model = build(args.model, num_classes, args.max_len)
        results[mode] = time_training(model, ds, args.steps)

    print(f"\n{'training':<16}{'samples/s':>12}{'epoch (s)':>12}{'mean T':>9}{'shapes':>8}")
    for mode, r in results.items():
        print(
            f"{mode:<16}{r['samples_per_s']:>12.1f}{r['epoch_s']:>12.1f}"
            f"{r['mean_frames']:>9.1f}{r['shapes']:>8d}"
        )
    ratio = results["bucketing"]["samples_per_s"] / results["pad to max_len"]["samples_per_s"]
    print(f"bucketing speed-up: {ratio:.2f}x samples/s")

    from hydra.utils import instantiate

    from islr.config import group_config

    augment = group_config("augment", "default", [f"data.max_len={args.max_len}"])
    ds = SequenceBatches(
        source, idx, boundaries=shipped_buckets(), augmenter=instantiate(augment), **common
    )
    p = time_pipeline(ds, args.pipeline_batches)
    train_rate = results["bucketing"]["samples_per_s"]
    print(
        f"\ninput pipeline alone (bucketed, 1 thread): {p['batches_per_s']:.1f} "
        f"batches/s, {p['samples_per_s']:.0f} samples/s = {p['samples_per_s'] / train_rate:.1f}x "
        "the bucketed training rate"
    )


if __name__ == "__main__":
    main()
