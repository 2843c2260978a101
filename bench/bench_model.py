"""Benchmark: islr's reference classifier vs the same architecture built from stock Keras layers.

Usage: ``python bench/bench_model.py [--batch 64] [--lengths 32 64 384] [--steps 1]
[--latency-runs 20] [--precision float32] [--jit-compile auto]``; set ``KERAS_BACKEND=jax`` for
JAX. From one run on the same inputs it prints, per padded length T, the training-step throughput
(samples/s, compile excluded) of both models and their ratio, then the forward latency (ms) of one
64-frame sequence and its ratio.

The stock model has the same layers and sizes but no masking: ``ZeroPadding1D`` +
``DepthwiseConv1D`` for the causal conv, ``GlobalAveragePooling1D`` inside ECA and at the top,
``keras.layers.MultiHeadAttention``, ``Dropout(noise_shape=(None, 1, 1))`` as drop path. It is
what islr would cost without its mask handling (and it is wrong on padded batches).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from typing import Any

import keras
import numpy as np
from omegaconf import OmegaConf

from islr.config import group_config, network_config
from islr.landmarks import N_FEATURES, PAD_VALUE
from islr.model import adaptive_eca_kernel_size, build_classifier

log = logging.getLogger("bench_model")


def _reference() -> dict[str, Any]:
    """``apply_classifier``'s arguments: ``conf/model/reference.yaml`` and 250 classes."""
    cfg = OmegaConf.to_container(network_config(group_config("model", "reference")))
    cfg.pop("_target_")
    return {**cfg, "name": "islr_classifier", "num_classes": 250, "late_dropout_start_step": 0}


REF = _reference()


# --- the stock-layer twin ---------------------------------------------------------------------
def _stock_eca(x: Any, k: int | None) -> Any:
    channels = x.shape[-1]
    s = keras.layers.GlobalAveragePooling1D()(x)
    s = keras.layers.Reshape((channels, 1))(s)
    k = k or adaptive_eca_kernel_size(channels)
    s = keras.layers.Conv1D(1, k, padding="same", use_bias=False, activation="sigmoid")(s)
    s = keras.layers.Reshape((1, channels))(s)
    return keras.layers.Multiply()([x, s])


def _stock_conv_block(x: Any, c: dict) -> Any:
    skip = x
    x = keras.layers.Dense(c["dim"] * c["expand_ratio"], activation="swish")(x)
    x = keras.layers.ZeroPadding1D((c["kernel_size"] - 1, 0))(x)
    x = keras.layers.DepthwiseConv1D(c["kernel_size"], padding="valid", use_bias=False)(x)
    x = keras.layers.BatchNormalization(momentum=c["bn_momentum"])(x)
    x = _stock_eca(x, c["eca_kernel_size"])
    x = keras.layers.Dense(c["dim"])(x)
    x = keras.layers.Dropout(c["conv_drop_rate"], noise_shape=(None, 1, 1))(x)
    return keras.layers.Add()([skip, x])


def _stock_transformer_block(x: Any, c: dict) -> Any:
    h = keras.layers.BatchNormalization(momentum=c["bn_momentum"])(x)
    h = keras.layers.MultiHeadAttention(
        c["num_heads"], c["dim"] // c["num_heads"], dropout=c["attn_drop_rate"], use_bias=False
    )(h, h)
    drop_path = c["drop_path_rate"]
    x = keras.layers.Add()([x, keras.layers.Dropout(drop_path, noise_shape=(None, 1, 1))(h)])
    h = keras.layers.BatchNormalization(momentum=c["bn_momentum"])(x)
    h = keras.layers.Dense(c["dim"] * c["expand_ratio"], use_bias=False, activation="swish")(h)
    h = keras.layers.Dense(c["dim"], use_bias=False)(h)
    return keras.layers.Add()([x, keras.layers.Dropout(drop_path, noise_shape=(None, 1, 1))(h)])


def build_stock_classifier(c: dict = REF) -> keras.Model:
    """The reference architecture from stock Keras layers only, without masking."""
    inputs = keras.Input((None, N_FEATURES))
    x = keras.layers.Dense(c["dim"], use_bias=False)(inputs)
    x = keras.layers.BatchNormalization(momentum=c["bn_momentum"])(x)
    for _ in range(c["num_stacks"]):
        for _ in range(c["conv_blocks_per_stack"]):
            x = _stock_conv_block(x, c)
        x = _stock_transformer_block(x, c)
    x = keras.layers.GlobalAveragePooling1D()(x)  # islr pools before the (linear) top Dense
    x = keras.layers.Dense(c["dim"] * c["top_dim_multiplier"])(x)
    x = keras.layers.Dropout(c["late_dropout_rate"])(x)
    logits = keras.layers.Dense(c["num_classes"], dtype="float32")(x)
    return keras.Model(inputs, logits, name="stock_classifier")


def build_islr_classifier(c: dict = REF) -> keras.Model:
    return build_classifier(**c)


BUILDERS = {"islr": build_islr_classifier, "stock": build_stock_classifier}


# --- measurements --------------------------------------------------------------------------------
def _batch(batch: int, t: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random features with random lengths in [t/4, t], padded to t with PAD_VALUE."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, t, N_FEATURES)).astype(np.float32)
    for i, n in enumerate(rng.integers(max(1, t // 4), t + 1, size=batch)):
        x[i, n:] = PAD_VALUE
    return x, rng.integers(0, REF["num_classes"], size=batch).astype(np.int32)


def _fresh(name: str, args: argparse.Namespace) -> keras.Model:
    keras.backend.clear_session()
    keras.config.set_dtype_policy(args.precision)
    keras.utils.set_random_seed(0)
    return BUILDERS[name]()


def train_samples_per_s(name: str, t: int, args: argparse.Namespace) -> float:
    """Training-step throughput on one fixed batch; the first (compiling) step is excluded."""
    model = _fresh(name, args)
    jit = {"auto": "auto", "true": True, "false": False}[args.jit_compile]
    model.compile(
        keras.optimizers.AdamW(1e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit,
    )
    x, y = _batch(args.batch, t)
    x, y = keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(y)
    model.train_on_batch(x, y)  # compile
    start = time.perf_counter()
    for _ in range(args.steps):
        loss = model.train_on_batch(x, y)
    float(np.asarray(loss))  # wait for the device
    return args.steps * args.batch / (time.perf_counter() - start)


def forward_latency_ms(name: str, t: int, args: argparse.Namespace) -> float:
    """Median latency of one inference call on a single ``t``-frame sequence."""
    model = _fresh(name, args)
    x = np.random.default_rng(2).normal(size=(1, t, N_FEATURES)).astype(np.float32)
    x = keras.ops.convert_to_tensor(x)  # a real sequence is never padded at inference
    model.predict_on_batch(x)  # compile
    times = []
    for _ in range(args.latency_runs):
        start = time.perf_counter()
        np.asarray(model.predict_on_batch(x))
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lengths", type=int, nargs="+", default=[32, 64, 384])
    parser.add_argument(
        "--steps", type=int, default=1, help="timed training steps per length and model"
    )
    parser.add_argument("--latency-frames", type=int, default=64)
    parser.add_argument("--latency-runs", type=int, default=20)
    parser.add_argument("--precision", default="float32", help="dtype policy, e.g. mixed_bfloat16")
    parser.add_argument("--jit-compile", choices=["auto", "true", "false"], default="auto")
    args = parser.parse_args(argv)
    for name, value in (("--batch", args.batch), ("--steps", args.steps)):
        if value < 1:
            parser.error(f"{name} must be >= 1, got {value}")
    if any(t < 1 for t in args.lengths):
        parser.error(f"--lengths must all be >= 1, got {args.lengths}")
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    backend = keras.backend.backend()
    print(
        f"bench_model: backend={backend} precision={args.precision} batch={args.batch} "
        f"steps={args.steps} jit_compile={args.jit_compile}"
    )
    for name in BUILDERS:
        model = _fresh(name, args)
        print(f"  {name:5s} classifier: {model.count_params():,} weights")
    print(f"\ntraining step, samples/s (batch {args.batch}, padded to T)")
    print(f"{'T':>6} {'islr':>10} {'stock':>10} {'islr/stock':>11}")
    for t in args.lengths:
        rates = {}
        for name in BUILDERS:
            log.debug("training %s at T=%d", name, t)
            rates[name] = train_samples_per_s(name, t, args)
        print(
            f"{t:>6} {rates['islr']:>10.1f} {rates['stock']:>10.1f} "
            f"{rates['islr'] / rates['stock']:>11.2f}",
            flush=True,
        )
    t = args.latency_frames
    lat = {name: forward_latency_ms(name, t, args) for name in BUILDERS}
    print(f"\nforward latency of one {t}-frame sequence, ms (median of {args.latency_runs})")
    print(f"{'islr':>10} {'stock':>10} {'islr/stock':>11}")
    print(f"{lat['islr']:>10.2f} {lat['stock']:>10.2f} {lat['islr'] / lat['stock']:>11.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
