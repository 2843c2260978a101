"""``islr-extract``: videos -> MediaPipe Holistic landmarks in the Kaggle ISLR layout.

Examples::

    islr-extract --setup                                  # once: MediaPipe's own environment
    islr-extract my_videos/ --out data/my_signs           # <sign>/<clip>.mp4 folders
    islr-extract --manifest labels.csv --out data/my_signs --sign-map kaggle_map.json
    islr-extract my_videos/ --out data/my_signs --shard 3/16   # one part of a split run

The result is a data root every islr command reads: ``islr-train data.root=data/my_signs``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from islr.cli._args import add_verbosity, add_work_list
from islr.cli._errors import run_command
from islr.errors import DataError


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` -> ``(I, N)`` with ``0 <= I < N``."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shard {text!r}: expected I/N, e.g. 0/4") from None
    if count < 1 or not 0 <= index < count:
        raise argparse.ArgumentTypeError(f"--shard {text!r}: need 0 <= I < N")
    return index, count


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="islr-extract",
        description="Run MediaPipe Holistic over videos and write the Kaggle ISLR layout "
        "(train.csv, train_landmark_files/<participant>/<sequence>.parquet, sign map). A clip's "
        "sign is its parent folder's name (or the --manifest's sign column); its participant is "
        "the folder above that (see docs/videos.md). Finished clips are never redone.",
    )
    add_work_list(
        p,
        inputs="video files and/or folders",
        out="data root to write",
        out_required=False,
        manifest_columns="video, sign[, participant_id]",
    )
    p.add_argument(
        "--sign-map", type=Path, help="existing sign map to keep and extend with new signs"
    )
    p.add_argument(
        "--participant-id", type=int, help="participant id of every clip without one in a manifest"
    )
    p.add_argument("--workers", type=int, help="extraction processes (default: all CPUs)")
    p.add_argument("--stride", type=int, default=1, help="keep every k-th frame (default 1)")
    p.add_argument("--max-frames", type=int, help="keep at most this many frames per clip")
    p.add_argument("--mirror", action="store_true", help="flip frames horizontally first")
    p.add_argument(
        "--model-complexity",
        type=int,
        default=1,
        choices=(0, 1, 2),
        help="Holistic pose model (default 1; the only one bundled offline)",
    )
    p.add_argument("--shard", type=parse_shard, default=(0, 1), help="process part I of N")
    p.add_argument(
        "--setup", action="store_true", help="create MediaPipe's extraction environment and exit"
    )
    add_verbosity(p, "no progress bar, warnings only")
    return p


def run(args: argparse.Namespace) -> int:
    """The command behind the parsed arguments (raises islr's errors)."""
    from islr.data.video import (
        HolisticSettings,
        extract_dataset,
        find_videos,
        read_manifest,
        setup_environment,
    )

    if args.setup:
        python = setup_environment(quiet=args.quiet)
        print(f"MediaPipe extraction environment ready: {python}")
        if not args.inputs and args.manifest is None:
            return 0
    if args.out is None:
        raise DataError("--out DATA_ROOT is required")
    if not args.inputs and args.manifest is None:
        raise DataError("give video files/folders or --manifest CSV")
    clips = []
    if args.manifest is not None:
        clips += read_manifest(args.manifest, participant_id=args.participant_id)
    if args.inputs:
        clips += find_videos(args.inputs, participant_id=args.participant_id)
    settings = HolisticSettings(
        stride=args.stride,
        max_frames=args.max_frames,
        mirror=args.mirror,
        model_complexity=args.model_complexity,
    )
    report = extract_dataset(
        clips,
        args.out,
        settings=settings,
        workers=args.workers,
        shard_index=args.shard[0],
        shard_count=args.shard[1],
        sign_map_file=args.sign_map,
        progress=not args.quiet,
    )
    print(report)
    for video, why in report.skipped:
        print(f"SKIPPED {video}: {why}", file=sys.stderr)
    if report.skipped:
        print(f"skipped-clip report: {args.out / 'extract_skipped.csv'}")
    return 0 if report.rows else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``islr-extract``: a known error is one line on stderr and exit 1."""
    return run_command("islr-extract", run, _parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
