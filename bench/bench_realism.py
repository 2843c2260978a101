"""Realism benchmark: sign-independent statistics of real Kaggle clips vs the synthetic demo set.

Prints, from one run, a table of :func:`islr.data.statistics.sequence_statistics` (face size and
framing, hand size, detection rates, jitter, pose points outside the image) on the real sample
``../shared/data/asl-signs-sample`` and on a freshly generated part of the synthetic ``demo``
preset, with the ratio synthetic / real and whether it is inside the calibration band
(0.75-1.33).

The synthetic part is the first ``--signs`` signs of the demo preset, ``--samples`` clips per
(signer, sign), all of its signers: these clips are identical to the demo set's (every clip is a
function of the seed, its signer, sign and repetition only).

Usage: python bench/bench_realism.py [--real DATA_ROOT] [--signs 100] [--samples 1]
       python bench/bench_realism.py --other DATA_ROOT   (any Kaggle-layout set instead, e.g.
       landmarks extracted from videos or an existing data/synthetic)
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from islr.data import generate_dataset, read_landmark_file, read_train_csv
from islr.data.statistics import STATISTICS, sequence_statistics
from islr.data.synthetic import PRESETS

HERE = Path(__file__).resolve().parent
REAL_SAMPLE = HERE.parent.parent / "shared" / "data" / "asl-signs-sample"
BAND = (0.75, 1.33)


def load_clips(root: Path) -> list[np.ndarray]:
    """Every clip listed in ``root/train.csv``, raw ``[T, 543, 3]``."""
    return [read_landmark_file(root / p) for p in read_train_csv(root)["path"]]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--real", type=Path, default=REAL_SAMPLE, help="real Kaggle-layout root")
    ap.add_argument("--signs", type=int, default=100, help="synthetic signs (of the demo's 250)")
    ap.add_argument("--samples", type=int, default=1, help="synthetic clips per (signer, sign)")
    ap.add_argument("--seed", type=int, default=0, help="synthetic seed (the demo uses 0)")
    ap.add_argument("--workers", type=int, default=None, help="generator processes")
    ap.add_argument("--other", type=Path, help="compare this Kaggle-layout root, not new data")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if not (args.real / "train.csv").exists():
        print(f"real data not found: {args.real}/train.csv is absent. The real Kaggle sample "
              "ships beside the repository as ../shared/data/asl-signs-sample (CI has it); "
              "pass another Kaggle-layout folder with --real.", file=sys.stderr)  # fmt: skip
        return 2
    if args.other is not None and not (args.other / "train.csv").exists():
        print(f"{args.other}/train.csv is absent: --other must be a Kaggle-layout data root",
              file=sys.stderr)  # fmt: skip
        return 2

    t0 = time.perf_counter()
    real_clips = load_clips(args.real)
    real = sequence_statistics(real_clips)
    print(f"real: {len(real_clips)} clips, {sum(map(len, real_clips))} frames from {args.real} "
          f"({time.perf_counter() - t0:.1f} s)")  # fmt: skip

    t0 = time.perf_counter()
    if args.other is not None:
        syn_clips = load_clips(args.other)
        source = f"of {args.other}"
    else:
        demo = dict(PRESETS["demo"])
        demo.update(n_signs=args.signs, samples_per_sign=args.samples)
        with tempfile.TemporaryDirectory(prefix="islr-realism-") as tmp:
            generate_dataset(tmp, seed=args.seed, workers=args.workers, progress=False, **demo)
            syn_clips = load_clips(Path(tmp))
        source = (f"of the demo preset ({args.signs} signs x {demo['n_participants']} signers x "
                  f"{args.samples}), seed {args.seed}")  # fmt: skip
    synthetic = sequence_statistics(syn_clips)
    column = "other" if args.other else "synthetic"
    seconds = time.perf_counter() - t0
    print(f"{column}: {len(syn_clips)} clips, {sum(map(len, syn_clips))} frames {source} "
          f"({seconds:.1f} s)\n")  # fmt: skip

    print(f"{'statistic':<22} {'real':>8} {column:>10} {'ratio':>7}  in {BAND[0]}-{BAND[1]}")
    outside = []
    for name in STATISTICS:
        ratio = synthetic[name] / real[name] if real[name] else float("nan")
        ok = BAND[0] <= ratio <= BAND[1]
        if not ok:
            outside.append(name)
        print(f"{name:<22} {real[name]:8.4f} {synthetic[name]:10.4f} {ratio:7.2f}  "
              f"{'yes' if ok else 'NO'}")  # fmt: skip
    print(f"\n{len(STATISTICS) - len(outside)}/{len(STATISTICS)} statistics inside the band"
          + (f"; outside: {', '.join(outside)}" if outside else ""))  # fmt: skip
    print("\ndefinitions:")
    for name, text in STATISTICS.items():
        print(f"  {name}: {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
