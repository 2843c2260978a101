"""A timeline of sign spotting on one stitched real stream (docs/images/spotting.png).

The stream is built as ``bench/bench_spotting.py`` builds them (``spot_eval.random_stream``:
real clips of one held-out signer of ``../shared/data/asl-signs-sample`` with real rest frames,
hands removed, between them). Four rows: the activity score with the rule's thresholds, the
true segments, the segments ``spot_signs`` reports (no sign in grey) and the sliding-window
baseline (``islr-predict --stream`` without ``--spot``). ``--parquet`` also writes the stream
as a landmark file, for ``islr-predict MODEL --stream STREAM.parquet --spot``.

Usage: python bench/plot_spotting.py --model RUN_OR_EXPORT [--signer 55372] [--seed 1]
       [--out docs/images/spotting.png] [--parquet stream.parquet]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from islr.data import read_landmark_file, read_train_csv
from islr.export.activity import ActivitySegmenter
from islr.export.predict import load_predictor, sign_names
from islr.export.spot import SpotSettings, spot_signs
from islr.export.spot_eval import random_stream, sliding_window_segments

HERE = Path(__file__).resolve().parent
REAL_SAMPLE = HERE.parent.parent / "shared" / "data" / "asl-signs-sample"
COLOURS = {"hello": "#2563eb", "thankyou": "#ea580c"}


def _bars(ax, segments, label_of, colour_of) -> None:
    for seg in segments:
        start, end = seg[0], seg[1]
        ax.barh(0, end - start + 1, left=start, height=0.8, color=colour_of(seg), alpha=0.85)
        text = label_of(seg)
        if text:
            ax.text((start + end) / 2, 0, text, ha="center", va="center", fontsize=6.5, color="w")
    ax.set_yticks([])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, help="a trained run or export")
    ap.add_argument("--sample", type=Path, default=REAL_SAMPLE, help="real Kaggle-layout root")
    ap.add_argument("--signer", type=int, default=55372, help="a held-out participant")
    ap.add_argument("--signs", nargs="+", default=["hello", "thankyou"])
    ap.add_argument("--clips", type=int, default=5)
    ap.add_argument("--min-clip", type=int, default=12, help="shortest clip used, in frames")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=HERE.parent / "docs" / "images" / "spotting.png")
    ap.add_argument("--parquet", type=Path, help="also write the stream here")
    args = ap.parse_args(argv)
    if not args.sample.is_dir():
        sys.exit(f"real sample not found: {args.sample}")

    df = read_train_csv(args.sample)
    df = df[df.sign.isin(args.signs) & (df.participant_id == args.signer)]
    recordings = [read_landmark_file(args.sample / p) for p in df.path]
    pool = [(s, f) for s, f in zip(df.sign, recordings, strict=True) if len(f) >= args.min_clip]
    if not pool:
        sys.exit(f"participant {args.signer} has no clip of {args.signs}")
    rng = np.random.default_rng(args.seed)
    frames, truth, _ = random_stream(pool, np.concatenate(recordings), rng, args.clips, (20, 60))
    if args.parquet:
        from islr.data.writer import write_landmark_file

        write_landmark_file(args.parquet, frames)
        print(f"stream written: {args.parquet} ({len(frames)} frames)")

    predictor = load_predictor(args.model)
    names = sign_names(predictor)
    settings = SpotSettings.shipped()
    segmenter = ActivitySegmenter(settings.activity)
    raw, score = [], []
    for frame in frames:
        raw.append(segmenter.push(frame)[0])
        score.append(segmenter.score)
    spotted = spot_signs(frames, predictor, names, settings=settings, include_rejected=True)
    baseline = sliding_window_segments(frames, predictor, names, window=64, every=8)
    threshold = settings.threshold(predictor)

    fig, axes = plt.subplots(
        4, 1, figsize=(9, 3.6), sharex=True, gridspec_kw={"height_ratios": [2, 1, 1, 1]}
    )
    t = np.arange(len(frames))
    axes[0].fill_between(t, 0, np.array(raw, float), step="mid", color="#d1d5db", label="raw")
    axes[0].plot(t, score, color="#111827", lw=1.2, label="activity score")
    rule = settings.activity
    for y, name in ((rule.on_threshold, "on"), (rule.off_threshold, "off")):
        axes[0].axhline(y, ls="--", lw=0.8, color="#6b7280")
        axes[0].text(len(frames) + 2, y, name, va="center", fontsize=7, color="#6b7280")
    axes[0].set_ylim(0, 1.05)
    axes[0].set_yticks([0, 1])
    axes[0].legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False, ncol=2)
    _bars(
        axes[1],
        [(s.start_frame, s.end_frame, s.sign) for s in truth],
        lambda s: s[2],
        lambda s: COLOURS.get(s[2], "#16a34a"),
    )
    _bars(
        axes[2],
        [(s.start_frame, s.end_frame, s.sign, s.confidence) for s in spotted],
        lambda s: f"{s[2] or 'no sign'}\n{s[3]:.2f}",
        lambda s: COLOURS.get(s[2], "#16a34a") if s[2] else "#9ca3af",
    )
    _bars(
        axes[3],
        [(s.start_frame, s.end_frame, s.sign) for s in baseline],
        lambda s: s[2] if s[1] - s[0] >= 30 else "",
        lambda s: COLOURS.get(s[2], "#16a34a"),
    )
    for ax, title in zip(
        axes, ("activity", "true signs", "spot_signs", "sliding window"), strict=True
    ):
        ax.set_ylabel(title, rotation=0, ha="right", va="center", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[-1].set_xlabel("frame (30 per second)", fontsize=8)
    axes[-1].set_xlim(0, len(frames))
    fig.suptitle(
        f"participant {args.signer}, {len(truth)} real clips with real rest frames; "
        f"no sign below {threshold:.2f}",
        fontsize=9,
    )
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"figure written: {args.out} ({args.out.stat().st_size // 1024} KB)")
    for seg in spotted:
        print(f"spotted frames {seg.start_frame}-{seg.end_frame}\t{seg.sign}\t{seg.confidence:.3f}")
    for seg in truth:
        print(f"true    frames {seg.start_frame}-{seg.end_frame}\t{seg.sign}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
