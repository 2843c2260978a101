"""Where the exported model's time goes: the 708-feature front end vs the network, per variant.

Converts, through islr's own export path (SavedModel -> TFLite builtins), the full raw-frame
inference model of the ``reference`` network (random weights) and a features-only model
(``[T, 543, 3]`` -> SelectLandmarks -> LandmarkFeatures), times both on one CPU thread for one
video of ``--frames`` frames, and counts the TFLite ops of each full variant (DEQUANTIZE ops and
the shape-handling ops that a variable frame axis brings).

    python bench/bench_inference_parts.py [--frames 64] [--runs 60]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import keras
import numpy as np
from omegaconf import OmegaConf

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
from islr.model import build_sign_model

CONF = Path(__file__).resolve().parents[1] / "conf" / "model" / "reference.yaml"
SHAPE_OPS = ("RESHAPE", "GATHER", "REDUCE_PROD", "PACK", "SHAPE", "STRIDED_SLICE")


def _median_ms(runner: TFLiteRunner, frames: np.ndarray, runs: int) -> float:
    for _ in range(5):
        runner(frames)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        runner(frames)
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1e3)


def _convert(model: keras.Model, variant: str, tmp: Path) -> bytes:
    return convert_saved_model(write_saved_model(model, tmp / f"{model.name}_{variant}"), variant)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--runs", type=int, default=60)
    args = parser.parse_args()

    cfg = OmegaConf.to_container(OmegaConf.load(CONF))
    cfg.pop("_target_", None)
    network = build_sign_model(**cfg)
    full = build_inference_model([network])
    raw = keras.Input(batch_shape=(None, N_LANDMARKS, 3), name="inputs")
    front = keras.Model(
        raw, LandmarkFeatures()(SelectLandmarks()(AddBatchAxis()(raw))), name="front"
    )
    frames = np.random.default_rng(0).random((args.frames, N_LANDMARKS, 3), dtype=np.float32)

    print(f"reference network, one video of {args.frames} frames, 1 thread, median of {args.runs}")
    header = f"{'variant':8} {'features ms':>12} {'full ms':>9} {'network ms':>11}"
    print(f"{header}  DEQUANTIZE  shape ops")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        front_ms = _median_ms(TFLiteRunner(_convert(front, "fp32", tmp)), frames, args.runs)
        for variant in ("fp32", "fp16"):
            flat = _convert(full, variant, tmp)
            full_ms = _median_ms(TFLiteRunner(flat), frames, args.runs)
            ops = tflite_op_counts(flat)
            shape_ops = sum(ops[name] for name in SHAPE_OPS)
            print(
                f"{variant:8} {front_ms:12.2f} {full_ms:9.2f} {full_ms - front_ms:11.2f}"
                f"  {ops['DEQUANTIZE']:10d}  {shape_ops:9d}"
            )


if __name__ == "__main__":
    main()
