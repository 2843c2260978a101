"""``islr-predict``: top-k signs for landmark parquet files with a .tflite or .keras model.

Example::

    islr-predict exports/X/model_fp16.tflite data/synthetic/train_landmark_files --top-k 3
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="islr-predict",
        description="Predict signs for Kaggle-layout landmark parquet files.",
    )
    p.add_argument(
        "model", help=".tflite or .keras model, an export directory or a training run directory"
    )
    p.add_argument("inputs", nargs="+", help="parquet files or directories (searched recursively)")
    p.add_argument("--top-k", type=int, default=5, help="signs listed per file (default 5)")
    p.add_argument("--output", help="also write the predictions to this CSV file")
    p.add_argument("--sign-map", help="sign map JSON (default: the one beside the model)")
    p.add_argument("--threads", type=int, default=1, help="TFLite interpreter threads")
    p.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; exit status 1 only when no file at all could be predicted."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if args.top_k < 1:
        print(f"islr-predict: --top-k must be >= 1, got {args.top_k}", file=sys.stderr)
        return 2
    from islr.export.predict import load_predictor, predict_files

    try:
        predictor = load_predictor(args.model, num_threads=args.threads)
        run = predict_files(predictor, args.inputs, top_k=args.top_k, sign_map=args.sign_map)
    except (OSError, ValueError) as err:
        print(f"islr-predict: {err}", file=sys.stderr)
        return 1
    for pred in run.predictions:
        tops = ", ".join(f"{sign} {prob:.3f}" for sign, _, prob in pred.top)
        print(f"{pred.path}\t{tops}")
    for path, why in run.failures:
        print(f"{path}\tSKIPPED: {why}", file=sys.stderr)
    if args.output:
        run.write_csv(args.output)
    print(
        f"predicted {len(run.predictions)} file(s), skipped {len(run.failures)}",
        file=sys.stderr,
    )
    return 0 if run.predictions else 1


if __name__ == "__main__":
    sys.exit(main())
