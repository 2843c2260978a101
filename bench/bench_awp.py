"""Benchmark: training-step cost of the optimizers and of AWP on the reference classifier.

Usage: ``python bench/bench_awp.py [--batch 32] [--time 64] [--steps 8] [--precision float32]``;
set ``KERAS_BACKEND=jax`` for JAX. Runs ``fit`` on one fixed batch (already a backend tensor, so
no input pipeline is timed) for AdamW, RAdam+Lookahead, and RAdam+Lookahead with AWP, and
prints ms/step and the ratio to AdamW from one run. Compile time (first epoch) is excluded.
"""

from __future__ import annotations

import argparse
import logging
import time

import keras
import numpy as np
from hydra.utils import instantiate

from islr.config import group_config, network_config
from islr.landmarks import N_FEATURES, PAD_VALUE
from islr.train.awp import AWPModel
from islr.train.losses import SparseCategoricalCrossentropyWithSmoothing
from islr.train.optimizers import build_optimizer

log = logging.getLogger("bench_awp")


class _EpochTimer(keras.callbacks.Callback):
    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._t = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.seconds.append(time.perf_counter() - self._t)


def _batch(batch: int, t: int, num_classes: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, t, N_FEATURES)).astype(np.float32)
    for i, n in enumerate(rng.integers(t // 4, t + 1, size=batch)):
        x[i, n:] = PAD_VALUE
    return x, rng.integers(0, num_classes, size=batch).astype(np.int32)


def _ms_per_step(mode: str, args: argparse.Namespace) -> float:
    keras.backend.clear_session()
    keras.config.set_dtype_policy(args.precision)
    keras.utils.set_random_seed(0)
    network = instantiate(
        network_config(group_config("model", "reference")),
        _target_="islr.model.build_classifier",
        num_classes=250,
        late_dropout_start_step=0,
    )
    awp = mode.endswith("+awp")
    model = AWPModel(network, awp_lambda=0.2, awp_enabled=awp)
    optimizer = build_optimizer(
        "adamw" if mode == "adamw" else "radam_lookahead",
        learning_rate=1e-3,
        total_steps=args.steps * (args.epochs + 1),
    )
    model.compile(
        optimizer=optimizer,
        loss=SparseCategoricalCrossentropyWithSmoothing(),
        jit_compile=True,
    )
    x_np, y_np = _batch(args.batch, args.time, 250)
    x, y = keras.ops.convert_to_tensor(x_np), keras.ops.convert_to_tensor(y_np)

    def batches():
        while True:
            yield x, y

    timer = _EpochTimer()
    model.fit(
        batches(),
        steps_per_epoch=args.steps,
        epochs=args.epochs + 1,
        shuffle=False,
        verbose=0,
        callbacks=[timer],
    )
    return 1000.0 * float(np.median(timer.seconds[1:])) / args.steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--time", type=int, default=64, help="padded frames per sequence")
    parser.add_argument("--steps", type=int, default=8, help="steps per timed epoch")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs (after 1 warm-up)")
    parser.add_argument("--precision", default="float32")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    modes = ("adamw", "radam_lookahead", "radam_lookahead+awp")
    results = {mode: _ms_per_step(mode, args) for mode in modes}
    base = results["adamw"]
    print(
        f"backend={keras.backend.backend()} batch={args.batch} T={args.time} "
        f"precision={args.precision} (median of {args.epochs} epochs x {args.steps} steps)"
    )
    for mode, ms in results.items():
        print(f"  {mode:<22s} {ms:9.2f} ms/step   x{ms / base:5.2f} vs adamw")


if __name__ == "__main__":
    main()
