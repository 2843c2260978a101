"""Micro-benchmark: LandmarkFeatures throughput on a padded batch, eager vs compiled.

Usage: ``python bench/bench_features.py [--batch 64] [--time 64] [--repeats 20]``; set
``KERAS_BACKEND=jax`` for JAX. Prints sequences/s per mode and the ratio to eager, from one run.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from islr.features import LandmarkFeatures
from islr.landmarks import N_POINTS, PAD_VALUE

log = logging.getLogger("bench_features")


def _batch(batch: int, t: int, seed: int = 0) -> np.ndarray:
    """Random frames with NaN hands, sequences of random length padded to ``t``."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.2, 0.8, (batch, t, N_POINTS, 3)).astype(np.float32)
    x[rng.random((batch, t)) < 0.3, 16:37] = np.nan
    for i, n in enumerate(rng.integers(t // 4, t + 1, size=batch)):
        x[i, n:] = PAD_VALUE
    return x


def _modes(layer: LandmarkFeatures) -> dict[str, Callable[[Any], Any]]:
    modes: dict[str, Callable[[Any], Any]] = {"eager": layer}
    if keras.backend.backend() == "jax":
        import jax

        modes["jit"] = jax.jit(layer.__call__)
    elif keras.backend.backend() == "tensorflow":
        import tensorflow as tf  # bench only: the library itself never imports TF here

        modes["tf.function"] = tf.function(layer.__call__)
        modes["tf.function+xla"] = tf.function(layer.__call__, jit_compile=True)
    return modes


def _time(fn: Callable[[Any], Any], x: Any, repeats: int) -> float:
    keras.ops.convert_to_numpy(fn(x))  # warm-up / compile
    start = time.perf_counter()
    for _ in range(repeats):
        keras.ops.convert_to_numpy(fn(x))
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--time", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    x = keras.ops.convert_to_tensor(_batch(args.batch, args.time))
    layer = LandmarkFeatures(max_len=None)
    results = {name: _time(fn, x, args.repeats) for name, fn in _modes(layer).items()}
    base = results["eager"]
    log.info(
        "LandmarkFeatures, backend=%s, batch %dx%d, %d repeats",
        keras.backend.backend(),
        args.batch,
        args.time,
        args.repeats,
    )
    for name, sec in results.items():
        log.info(
            "  %-16s %8.2f ms/batch %10.0f seq/s  x%.2f vs eager",
            name,
            sec * 1e3,
            args.batch / sec,
            base / sec,
        )


if __name__ == "__main__":
    main()
