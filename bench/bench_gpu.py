"""GPU training benchmark: reference model, JAX, bf16, global batch 512, on-device augmentation.

What a training run on one accelerator does, without the data set: realistic skewed clip lengths
(log-normal around ~30 frames, tail to several hundred, as in the Kaggle data) bucketed by the
input pipeline (the host only gathers and pads), the recipe's
augmentations inside the compiled step (``BatchAugmentation``), the ``reference`` model under
``mixed_bfloat16``. Prints:

- training samples/s and mean step time over the timed steps (every batch shape compiled first);
- model FLOP utilisation (MFU): the network's FLOPs per step (XLA's cost analysis of the forward
  pass at each batch's length, x3 for forward + backward) over the step time, against the
  device's peak dense bf16 TFLOP/s (table below, or ``--peak-tflops``);
- the host pipeline's samples/s on one core, and how many cores would feed the step.

Usage on a GPU machine: ``python bench/bench_gpu.py`` (defaults are the reference run's).
On a CPU, ``--smoke`` runs the same code with tiny sizes. Forces ``KERAS_BACKEND=jax``.
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

# Peak dense (no sparsity) bf16 tensor-core TFLOP/s, from the vendors' data sheets.
PEAK_BF16_TFLOPS: dict[str, float] = {
    "H200": 989.0,
    "H100 PCIe": 756.0,
    "H100": 989.0,  # SXM
    "A100": 312.0,
}


def peak_tflops(device_kind: str) -> float | None:
    """The peak for a JAX ``device_kind`` (e.g. ``NVIDIA H100 80GB HBM3``), None if unknown."""
    kind = device_kind.upper()
    if "H100" in kind and "PCIE" in kind:
        return PEAK_BF16_TFLOPS["H100 PCIe"]
    for name, value in PEAK_BF16_TFLOPS.items():
        if name.upper() in kind:
            return value
    return None


def forward_flops(network: Any, batch: int, length: int) -> float:
    """XLA's FLOP count of one forward pass of ``network`` on ``[batch, length, 118, 3]``."""
    import jax
    import jax.numpy as jnp

    from islr.landmarks import N_POINTS

    def forward(trainable: Any, non_trainable: Any, x: Any) -> Any:
        return network.stateless_call(trainable, non_trainable, x, training=True)[0]

    x = jax.ShapeDtypeStruct((batch, length, N_POINTS, 3), jnp.float32)
    tv = [v.value for v in network.trainable_variables]
    ntv = [v.value for v in network.non_trainable_variables]
    cost = jax.jit(forward).lower(tv, ntv, x).compile().cost_analysis()
    if isinstance(cost, list | tuple):
        cost = cost[0] if cost else {}
    return float((cost or {}).get("flops", float("nan")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch-size", type=int, default=512, help="global batch")
    parser.add_argument("--samples", type=int, default=40000, help="sequences to draw from")
    parser.add_argument("--steps", type=int, default=40, help="timed training steps")
    parser.add_argument("--max-len", type=int, default=384)
    parser.add_argument("--model", choices=["reference", "tiny"], default="reference")
    parser.add_argument("--precision", default="mixed_bfloat16")
    parser.add_argument("--peak-tflops", type=float, default=None, help="override the table")
    parser.add_argument("--no-augment", action="store_true", help="no on-device augmentation")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: a CPU check")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.smoke:
        args.batch_size, args.samples, args.steps = 16, 256, 4
        args.max_len, args.model = 64, "tiny"

    import jax
    import keras

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from hydra.utils import instantiate

    from bench_pipeline import FlatSequences
    from islr.augment.batched import BatchAugmentation
    from islr.config import group_config, network_config
    from islr.train.pipeline import SequenceBatches
    from islr.train.training_model import build_training_model

    if keras.backend.backend() != "jax":
        print(f"warning: KERAS_BACKEND={keras.backend.backend()}; this benchmark expects jax")
    device = jax.devices()[0]
    peak = args.peak_tflops or peak_tflops(device.device_kind)
    print(
        f"device {device.device_kind} ({device.platform}, {jax.device_count()} devices), "
        f"model {args.model}, {args.precision}, global batch {args.batch_size}, "
        f"max_len {args.max_len}, peak bf16 {peak or 'unknown'} TFLOP/s"
    )

    num_classes = 250
    source = FlatSequences(args.samples, num_classes, seed=args.seed)
    augmenter = instantiate(group_config("augment", "default", [f"data.max_len={args.max_len}"]))
    ds = SequenceBatches(
        source,
        np.arange(len(source)),
        batch_size=args.batch_size,
        max_len=args.max_len,
        training=True,
        augmenter=augmenter,
        seed=args.seed,
        boundaries=tuple(group_config("data", "kaggle").buckets),
    )
    n_steps = min(args.steps, len(ds))
    t0 = time.perf_counter()
    batches = [ds[k] for k in range(n_steps)]
    host_rate = n_steps * args.batch_size / (time.perf_counter() - t0)

    keras.utils.set_random_seed(args.seed)
    keras.config.set_dtype_policy(args.precision)
    # conf/model/<args.model>.yaml, with what the trainer passes.
    network = instantiate(
        network_config(group_config("model", args.model)),
        max_len=args.max_len,
        num_classes=num_classes,
        late_dropout_start_step=0,
    )
    layer = None if args.no_augment else BatchAugmentation.from_settings(augmenter, seed=1)
    model = build_training_model(network, 0.0, layer)
    model.compile(
        optimizer=keras.optimizers.AdamW(1e-3, weight_decay=1e-4),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=True,
    )

    def out_len(length: int) -> int:
        if layer is None:
            return min(length, args.max_len)
        return int(layer.output_length(length))

    shapes = sorted({b[0].shape[1] for b in batches})
    t0 = time.perf_counter()
    for length in shapes:  # compile every shape before timing
        x, y = next(b for b in batches if b[0].shape[1] == length)
        model.train_on_batch(x, y)
    compile_s = time.perf_counter() - t0
    flops = {
        length: 3.0 * forward_flops(network, args.batch_size, out_len(length)) for length in shapes
    }

    t0 = time.perf_counter()
    for x, y in batches:
        loss = model.train_on_batch(x, y)
    keras.ops.convert_to_numpy(loss)  # wait for the device
    seconds = time.perf_counter() - t0
    keras.config.set_dtype_policy("float32")

    rate = n_steps * args.batch_size / seconds
    step_ms = seconds / n_steps * 1e3
    total_flops = sum(flops[b[0].shape[1]] for b in batches)
    achieved = total_flops / seconds / 1e12
    in_frames = np.mean([b[0].shape[1] for b in batches])
    model_frames = np.mean([out_len(b[0].shape[1]) for b in batches])
    print(
        f"{n_steps} timed steps, {len(shapes)} shapes (compiled in {compile_s:.0f} s), mean "
        f"padded length {in_frames:.0f} in / {model_frames:.0f} into the model"
    )
    print(f"training: {rate:,.0f} samples/s, {step_ms:.1f} ms per step")
    print(f"model FLOPs: {total_flops / n_steps / 1e12:.3f} TFLOP per step (3x forward)")
    if peak:
        print(f"MFU: {achieved:.1f} TFLOP/s of {peak:.0f} = {100 * achieved / peak:.1f} %")
    else:
        print(f"MFU: {achieved:.2f} TFLOP/s achieved; peak unknown (pass --peak-tflops)")
    print(
        f"host pipeline: {host_rate:,.0f} samples/s per core -> "
        f"{rate / host_rate:.2f} cores feed this step"
    )


if __name__ == "__main__":
    main()
