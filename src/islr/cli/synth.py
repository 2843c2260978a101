"""``islr-synth``: write a synthetic data set in the Kaggle ISLR layout."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from islr.cli._errors import run_command
from islr.data.reader import TRAIN_CSV_FILENAME
from islr.data.synthetic import PRESETS, generate_dataset


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="islr-synth",
        description="Generate synthetic sign-language landmark data in the Kaggle ISLR layout "
        "(train.csv, train_landmark_files/, sign_to_prediction_index_map.json).",
    )
    p.add_argument("--out", required=True, type=Path, help="output data root")
    p.add_argument("--preset", default="demo",
                   help=f"size preset: {', '.join(sorted(PRESETS))} "
                   "(default: demo, the data `make train` uses)")  # fmt: skip
    p.add_argument("--signs", type=int, help="number of signs (overrides the preset)")
    p.add_argument("--participants", type=int, help="number of signers (overrides the preset)")
    p.add_argument("--samples-per-sign", type=int, help="clips per signer and sign")
    p.add_argument("--difficulty", type=float, default=1.0,
                   help="scales all nuisance variation (default 1.0; lower = easier)")  # fmt: skip
    p.add_argument("--length-scale", type=float, help="multiply clip lengths")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, help="processes (default: all CPUs)")
    p.add_argument("--if-missing", action="store_true",
                   help="do nothing if OUT already holds a data set")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress bar, only warnings and errors")
    p.add_argument("--verbose", action="store_true", help="show tracebacks of errors")
    return p


def run(args: argparse.Namespace) -> int:
    """The command behind the parsed arguments (raises islr's errors)."""
    if args.preset not in PRESETS:
        raise ValueError(
            f"--preset {args.preset}: unknown preset; choose from {', '.join(sorted(PRESETS))}"
        )
    if args.out.exists() and not args.out.is_dir():
        raise ValueError(f"--out {args.out}: exists and is not a folder; give a folder to write")
    if args.if_missing and (args.out / TRAIN_CSV_FILENAME).is_file():
        print(f"{args.out} already holds a data set ({TRAIN_CSV_FILENAME} exists); nothing to do")
        return 0
    preset = dict(PRESETS[args.preset])
    for key, value in (
        ("n_signs", args.signs),
        ("n_participants", args.participants),
        ("samples_per_sign", args.samples_per_sign),
        ("length_scale", args.length_scale),
    ):
        if value is not None:
            preset[key] = value
    summary = generate_dataset(
        args.out,
        seed=args.seed,
        difficulty=args.difficulty,
        workers=args.workers,
        progress=not args.quiet,
        **preset,
    )
    print(f"wrote {summary}")
    print(f"  {args.out / TRAIN_CSV_FILENAME}")
    print(f"  {args.out / 'train_landmark_files'}/<participant_id>/<sequence_id>.parquet")
    print(f"  {args.out / 'sign_to_prediction_index_map.json'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``islr-synth``: a known error ends it with one line and exit status 1."""
    return run_command("islr-synth", run, _parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
