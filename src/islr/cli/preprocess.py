"""``islr-preprocess``: build the preprocessing cache of a Kaggle-layout data root."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from islr.data.cache import build_cache
from islr.errors import DataError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="islr-preprocess",
        description="Read every landmark file listed in ROOT/train.csv once and store the 118 "
        "selected points, labels and participant-grouped folds in a memory-mapped cache. "
        "An up-to-date cache is reused; an interrupted build resumes.",
    )
    p.add_argument("--root", required=True, type=Path, help="data root (holds train.csv)")
    p.add_argument("--cache", required=True, type=Path, help="cache folder")
    p.add_argument(
        "--workers", type=int, help="reader processes (default: CPUs, one per 512 files at most)"
    )
    p.add_argument("--folds", type=int, default=5, help="participant-grouped folds (default 5)")
    p.add_argument("--fold-seed", type=int, default=0)
    p.add_argument("--force", action="store_true", help="rebuild even if up to date")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``islr-preprocess``."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        report = build_cache(
            args.root,
            args.cache,
            num_folds=args.folds,
            fold_seed=args.fold_seed,
            workers=args.workers,
            force=args.force,
            progress=not args.quiet,
        )
    except (DataError, ValueError, OSError) as exc:
        # One line, never a traceback: bad data, a corrupt cache with rebuilding off, a full
        # disk (the previous cache is then left as it was).
        print(f"islr-preprocess: error: {exc}", file=sys.stderr)
        return 2
    print(report)
    if not report.skipped:
        print("no file skipped")
    else:
        print(f"skipped-file report: {args.cache / 'skipped.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
