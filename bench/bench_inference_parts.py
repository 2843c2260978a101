"""Where the exported model's time goes: the 708-feature front end vs the network, per variant.

Converts, through islr's own export path (SavedModel -> TFLite builtins), the full raw-frame
inference model of the ``reference`` network (random weights) and a features-only model (``[T, 543,
3]`` -> SelectLandmarks -> LandmarkFeatures), times all three in turn, round by round, on one CPU
thread for one video of ``--frames`` frames, and counts the TFLite ops of each full variant: all,
DEQUANTIZE, shape ops computed at run time from the variable frame count, and SELECT_V2 (masking,
features).

    python bench/bench_inference_parts.py [--frames 64] [--runs 200]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import keras
import numpy as np

from bench_inference import interleaved_timings, network
from islr.export.inference import build_inference_model
from islr.export.layers.add_batch_axis import AddBatchAxis
from islr.export.tflite import (
    TFLiteRunner,
    convert_saved_model,
    tflite_op_counts,
    write_saved_model,
)
from islr.features import LandmarkFeatures, SelectLandmarks
from islr.landmarks import N_LANDMARKS

# Ops that compute shapes at run time from the variable frame count (tensordot leaves these).
RUNTIME_SHAPE_OPS = ("SHAPE", "PACK", "REDUCE_PROD")


def _convert(model: keras.Model, variant: str, tmp: Path) -> bytes:
    return convert_saved_model(write_saved_model(model, tmp / f"{model.name}_{variant}"), variant)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()

    full = build_inference_model([network("reference", 0)], max_len=None, output="logits")
    raw = keras.Input(batch_shape=(None, N_LANDMARKS, 3), name="inputs")
    front = keras.Model(
        raw, LandmarkFeatures(max_len=None)(SelectLandmarks()(AddBatchAxis()(raw))), name="front"
    )
    frames = np.random.default_rng(0).random((args.frames, N_LANDMARKS, 3), dtype=np.float32)

    print(f"reference network, one video of {args.frames} frames, 1 thread, median of {args.runs}")
    header = f"{'variant':8} {'features ms':>12} {'full ms':>9} {'network ms':>11}"
    print(f"{header}  {'ops':>5}  DEQUANTIZE  run-time shape ops  SELECT_V2")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        flats = {v: _convert(full, v, tmp) for v in ("fp32", "fp16")}
        runners = {v: TFLiteRunner(flat) for v, flat in flats.items()}
        runners["features"] = TFLiteRunner(_convert(front, "fp32", tmp))
        ms = {
            name: med for name, (med, _) in interleaved_timings(runners, frames, args.runs).items()
        }
        for variant, flat in flats.items():
            ops = tflite_op_counts(flat)
            shape_ops = sum(ops[name] for name in RUNTIME_SHAPE_OPS)
            print(
                f"{variant:8} {ms['features']:12.2f} {ms[variant]:9.2f}"
                f" {ms[variant] - ms['features']:11.2f}"
                f"  {sum(ops.values()):5d}  {ops['DEQUANTIZE']:10d}  {shape_ops:18d}"
                f"  {ops['SELECT_V2']:9d}"
            )


if __name__ == "__main__":
    main()
