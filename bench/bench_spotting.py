"""Sign spotting benchmark: spotted segments vs the sliding-window baseline on real streams.

1. Trains a small model (islr-train, the shipped defaults at a small size) on the real hello and
   thankyou clips of ``../shared/data/asl-signs-sample``, leaving out ``--held-out`` signers
   entirely (or loads ``--model``).
2. Builds streams from the held-out signers' clips (at least ``--min-clip`` frames, hello and
   thankyou mixed at random): ``--clips`` clips per stream with real rest frames between them
   (frames of the same signer's recordings with both hands set to NaN, i.e. no hand in view),
   ``--rest-min``..``--rest-max`` frames each. The true boundaries are the clips' places.
3. Scores, in one run, ``spot_signs`` (the shipped ``conf/spot/default.yaml``) and the baseline
   (top-1 of the last ``--window`` frames every ``--every`` frames, as ``islr-predict --stream``
   prints): segment precision / recall / F1 (sign right and overlap >= 50 % of both segments),
   mean boundary error (frames), false-alarm rate on rest frames. Also on streams stitched only
   from clips the clip-level classifier gets right ("classifier right": what segmentation and
   merging cost, separate from the classifier's own errors).

Usage: python bench/bench_spotting.py [--epochs 30] [--streams 20] [--model RUN_OR_EXPORT]
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from islr.data import read_landmark_file, read_train_csv
from islr.export.predict import load_predictor, sign_names, top_signs
from islr.export.spot import SpotSettings, spot_signs
from islr.export.spot_eval import random_stream, score_segments, sliding_window_segments

HERE = Path(__file__).resolve().parent
REAL_SAMPLE = HERE.parent.parent / "shared" / "data" / "asl-signs-sample"
SIGNS = ("hello", "thankyou")
BIN = Path(sys.executable).parent


def train(sample: Path, held_out: list[int], work: Path, epochs: int) -> Path:
    """islr-train on the sample's hello/thankyou clips of every signer but ``held_out``."""
    df = read_train_csv(sample)
    df = df[df.sign.isin(SIGNS) & ~df.participant_id.isin(held_out)].copy()
    df["path"] = [str(sample / p) for p in df.path]
    root = work / "root"
    root.mkdir(parents=True)
    df.drop(columns="label").to_csv(root / "train.csv", index=False)
    (root / "sign_to_prediction_index_map.json").write_text('{"hello": 0, "thankyou": 1}')
    run_dir = work / "run"
    cmd = [
        str(BIN / "islr-train"),
        "model=tiny",
        "augment=light",
        "data.max_len=64",
        "data.batch_size=16",
        f"data.root={root}",
        f"data.cache_dir={work / 'cache'}",
        f"trainer.epochs={epochs}",
        "export.enabled=false",
        f"hydra.run.dir={run_dir}",
    ]
    print(f"training on {len(df)} clips of {df.participant_id.nunique()} signers ...", flush=True)
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"islr-train failed:\n{result.stderr[-3000:]}")
    return run_dir


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sample", type=Path, default=REAL_SAMPLE, help="real Kaggle-layout root")
    ap.add_argument("--model", help="a trained run or export (default: train one here)")
    ap.add_argument("--epochs", type=int, default=30, help="training epochs")
    ap.add_argument("--keep", type=Path, help="train into this folder, kept")
    ap.add_argument("--held-out", type=int, nargs="+", default=[49445, 55372, 62590, 2044])
    ap.add_argument("--streams", type=int, default=20, help="streams per set")
    ap.add_argument("--clips", type=int, default=5, help="clips per stream")
    ap.add_argument("--min-clip", type=int, default=12, help="shortest clip used, in frames")
    ap.add_argument("--rest-min", type=int, default=20, help="shortest rest, in frames")
    ap.add_argument("--rest-max", type=int, default=60, help="longest rest, in frames")
    ap.add_argument("--window", type=int, default=64, help="baseline window (--window)")
    ap.add_argument("--every", type=int, default=8, help="baseline step (--every)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if not args.sample.is_dir():
        sys.exit(f"real sample not found: {args.sample}")

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        model = args.model or train(args.sample, args.held_out, work, args.epochs)
        predictor = load_predictor(model)
        names = sign_names(predictor)
        trained_s = time.perf_counter() - t0

        df = read_train_csv(args.sample)
        df = df[df.sign.isin(SIGNS) & df.participant_id.isin(args.held_out)]
        clips = {pid: [] for pid in args.held_out}
        recordings: dict[int, list[np.ndarray]] = {pid: [] for pid in args.held_out}
        right = 0
        for rel, sign, pid in zip(df.path, df.sign, df.participant_id, strict=True):
            frames = read_landmark_file(args.sample / rel)
            recordings[pid].append(frames)
            if len(frames) < args.min_clip:
                continue
            ok = top_signs(predictor, frames, names, 1)[0][0] == sign
            right += ok
            clips[pid].append((sign, frames, ok))
        used = sum(len(c) for c in clips.values())
        print(f"held-out clips >= {args.min_clip} frames: {used}, clip-level top-1 right: {right}")

        rng = np.random.default_rng(args.seed)
        settings = SpotSettings.shipped()
        results: dict[str, dict[str, list]] = {}
        for subset in ("all clips", "classifier right"):
            spot_runs, base_runs = [], []
            for _ in range(args.streams):
                pid = int(rng.choice([p for p in args.held_out if clips[p]]))
                pool = [c for c in clips[pid] if subset == "all clips" or c[2]]
                if not pool:
                    continue
                frames, truth, rest_mask = random_stream(
                    [(s, f) for s, f, _ in pool],
                    np.concatenate(recordings[pid]),
                    rng,
                    args.clips,
                    (args.rest_min, args.rest_max),
                )
                spotted = spot_signs(frames, predictor, names, settings=settings)
                baseline = sliding_window_segments(
                    frames, predictor, names, window=args.window, every=args.every
                )
                spot_runs.append((spotted, truth, rest_mask))
                base_runs.append((baseline, truth, rest_mask))
            results[subset] = {
                "spot_signs": score_segments(spot_runs),
                "sliding window": score_segments(base_runs),
            }

    rows = []
    for subset, methods in results.items():
        for method, s in methods.items():
            rows.append(
                {
                    "streams": subset,
                    "method": method,
                    "true": s.true_segments,
                    "predicted": s.predicted,
                    "hits": s.hits,
                    "precision": round(s.precision, 3),
                    "recall": round(s.recall, 3),
                    "F1": round(s.f1, 3),
                    "boundary err (frames)": round(s.boundary_error, 2),
                    "false alarms on rest": round(s.false_alarm_rate, 3),
                }
            )
    print(pd.DataFrame(rows).to_string(index=False))
    for subset, methods in results.items():
        spot, base = methods["spot_signs"], methods["sliding window"]
        ratio = base.false_alarm_rate / spot.false_alarm_rate if spot.false_alarm_rate else np.inf
        print(f"{subset}: false alarms {ratio:.1f}x fewer than the baseline; F1 {spot.f1:.3f}")
    print(f"activity rule: {settings.activity.as_dict()}")
    print(f"rejection threshold {settings.threshold(predictor):.3f}, window {settings.window}")
    print(f"model: {'trained here' if not args.model else args.model} ({trained_s:.0f} s)")
    print(f"total {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
