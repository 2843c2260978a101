"""Run every islr benchmark in turn (each in its own process) and print its report.

Usage: ``python bench/run_all.py [--only NAME ...] [--quick]``. Each benchmark prints its own
side-by-side ratios measured in one run; see the docstring at the top of each script.
``KERAS_BACKEND=jax`` runs the backend-agnostic ones under JAX (export/inference needs TF).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# name -> (script, arguments for a quick run, needs TensorFlow)
BENCHMARKS: dict[str, tuple[str, list[str], list[str], bool]] = {
    "preprocess": ("bench_preprocess.py", [], ["--files", "400"], False),
    "features": ("bench_features.py", [], ["--repeats", "5"], False),
    "model": ("bench_model.py", [], ["--steps", "3"], False),
    "train": ("bench_train.py", [], ["--steps", "5"], False),
    "pipeline": ("bench_pipeline.py", [], ["--samples", "4096", "--rounds", "2"], False),
    "augment_paths": ("bench_augment_paths.py", [], ["--rounds", "1", "--epochs", "1"], False),
    "awp": ("bench_awp.py", [], ["--steps", "3"], False),
    "inference": ("bench_inference.py", [], ["--runs", "20"], True),
    "inference_parts": ("bench_inference_parts.py", [], ["--runs", "20"], True),
    "realism": ("bench_realism.py", [], ["--signs", "20"], False),
    "extract": ("bench_extract.py", [], ["--clips", "3", "--max-frames", "30"], False),
}
# name -> data a benchmark needs that a user's clone may lack (skipped, with the reason, if absent)
REQUIRES: dict[str, Path] = {
    "realism": HERE.parent.parent / "shared" / "data" / "asl-signs-sample",
    "extract": HERE.parent.parent / "shared" / "data" / "videos",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=sorted(BENCHMARKS), help="subset to run")
    parser.add_argument("--quick", action="store_true", help="fewer steps (a smoke run)")
    args = parser.parse_args(argv)
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    failed = []
    for name in args.only or list(BENCHMARKS):
        script, full_args, quick_args, needs_tf = BENCHMARKS[name]
        if not (HERE / script).exists():
            print(f"== {name}: {script} not present, skipped")
            continue
        if name in REQUIRES and not REQUIRES[name].exists():
            print(f"== {name}: needs {REQUIRES[name]}, absent: skipped")
            continue
        if needs_tf and backend != "tensorflow":
            print(f"== {name}: needs the TensorFlow backend, skipped under {backend}")
            continue
        cmd = [sys.executable, str(HERE / script), *(quick_args if args.quick else full_args)]
        print(f"== {name}: {' '.join(cmd[1:])}", flush=True)
        start = time.perf_counter()
        rc = subprocess.call(cmd)
        print(f"== {name}: exit {rc} after {time.perf_counter() - start:.0f} s\n", flush=True)
        if rc:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
