"""``islr-predict``: top-k signs for landmark files or videos, or live from a camera/video.

Examples::

    islr-predict exports/X/model_fp16.tflite data/synthetic/train_landmark_files --top-k 3
    islr-predict exports/X/model_fp16.tflite my_clip.mp4 more_clips/ --output preds.csv
    islr-predict exports/X/model_fp16.tflite --stream 0          # camera 0, sliding window
    islr-predict exports/X/model_fp16.tflite --stream clip.mp4 --window 48 --every 4
    islr-predict exports/X/model_fp16.tflite --stream 0 --show   # a window (GUI OpenCV)
    islr-predict exports/X/model_fp16.tflite --stream clip.mp4 --record annotated.mp4
    islr-predict exports/X/model_fp16.tflite --stream 0 --spot   # the signs made, in order
    islr-predict exports/X --stream long.parquet --spot --output segments.json
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from islr.cli._errors import run_command


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="islr-predict",
        description="Predict signs for Kaggle-layout landmark parquet files and videos "
        "(landmarks extracted with MediaPipe Holistic, see islr-extract), or live over a "
        "sliding window of a camera or video stream (--stream).",
    )
    p.add_argument(
        "model", help=".tflite or .keras model, an export directory or a training run directory"
    )
    p.add_argument(
        "inputs", nargs="*", help="parquet files, videos or directories (searched recursively)"
    )
    p.add_argument("--top-k", type=int, default=5, help="signs listed per file (default 5)")
    p.add_argument(
        "--output", help="also write the predictions (--spot: the segments, .csv or .json) here"
    )
    p.add_argument("--sign-map", help="sign map JSON (default: the one beside the model)")
    p.add_argument("--threads", type=int, default=1, help="TFLite interpreter threads")
    p.add_argument(
        "--min-confidence",
        type=float,
        metavar="P",
        help="a clip (--spot: a segment) whose calibrated top probability is below P (0-1) is "
        "no sign (default: the rejection threshold of calibration.json beside the model; "
        "none for an uncalibrated model; --spot: conf/spot)",
    )
    video = p.add_argument_group("videos")
    video.add_argument("--stream", metavar="SOURCE", help="camera index or video file: live mode")
    video.add_argument("--window", type=int, default=64, help="frames per live prediction")
    video.add_argument("--every", type=int, default=8, help="frames between live predictions")
    video.add_argument(
        "--show", action="store_true", help="live: draw frames, landmarks and the top sign"
    )
    video.add_argument("--record", metavar="FILE", help="live: write the drawn frames to a video")
    video.add_argument(
        "--spot",
        action="store_true",
        help="with --stream (also a long .parquet): print each signing segment and its sign "
        "as it ends, instead of a prediction per window (docs/spotting.md)",
    )
    video.add_argument("--stride", type=int, default=1, help="keep every k-th video frame")
    video.add_argument("--mirror", action="store_true", help="flip video frames horizontally")
    video.add_argument("--workers", type=int, default=1, help="video extraction processes")
    p.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    p.add_argument("--verbose", action="store_true", help="show tracebacks of errors")
    return p


def _stream(args: argparse.Namespace, predictor, settings) -> int:
    from islr.export.predict import sign_names
    from islr.export.stream import predict_stream

    names = sign_names(predictor, args.sign_map)
    count = 0
    source = int(args.stream) if args.stream.isdigit() else args.stream
    for pred in predict_stream(
        predictor,
        source,
        names,
        window=args.window,
        every=args.every,
        top_k=args.top_k,
        settings=settings,
        show=args.show,
        record=args.record,
    ):
        count += 1
        if pred.top:
            tops = ", ".join(f"{sign} {prob:.3f}" for sign, _, prob in pred.top)
        else:
            tops = "(no hand in view)"
        print(f"frame {pred.frame}\t{tops}", flush=True)
    print(f"stream ended after {count} prediction(s)", file=sys.stderr)
    return 0 if count else 1


def _spot(args: argparse.Namespace, predictor, settings) -> int:
    from islr.export.predict import sign_names
    from islr.export.spot import SpotSettings, spot_stream, write_segments

    names = sign_names(predictor, args.sign_map)
    changes = {} if args.min_confidence is None else {"min_confidence": args.min_confidence}
    spot = SpotSettings.shipped(**changes)
    source = int(args.stream) if args.stream.isdigit() else args.stream
    segments = []
    for seg in spot_stream(
        predictor,
        source,
        names,
        spot,
        video_settings=settings,
        show=args.show,
        record=args.record,
    ):
        segments.append(seg)
        sign = seg.sign if seg.sign is not None else "(no sign)"
        print(f"frames {seg.start_frame}-{seg.end_frame}\t{sign}\t{seg.confidence:.3f}", flush=True)
    if args.output:
        write_segments(segments, args.output)
    signs = sum(s.sign is not None for s in segments)
    print(
        f"stream ended: {signs} sign(s), {len(segments) - signs} segment(s) below "
        f"the rejection threshold {spot.threshold(predictor):.3f} (no sign)",
        file=sys.stderr,
    )
    return 0


def run(args: argparse.Namespace) -> int:
    """The command behind the parsed arguments (raises islr's errors)."""
    from islr.data.video import HolisticSettings
    from islr.export.predict import NO_SIGN, load_predictor, predict_files

    if args.top_k < 1:
        raise ValueError(f"--top-k must be >= 1, got {args.top_k}")
    if not args.inputs and args.stream is None:
        raise ValueError("give landmark files, videos or directories, or --stream SOURCE")
    if (args.show or args.record or args.spot) and args.stream is None:
        raise ValueError("--show, --record and --spot go with --stream SOURCE")
    if args.min_confidence is not None and args.stream is not None and not args.spot:
        raise ValueError("--min-confidence goes with files or --spot, not the sliding window")
    settings = HolisticSettings(stride=args.stride, mirror=args.mirror)
    predictor = load_predictor(args.model, num_threads=args.threads)
    if args.stream is not None:
        if args.spot:
            return _spot(args, predictor, settings)
        return _stream(args, predictor, settings)
    run = predict_files(
        predictor,
        args.inputs,
        top_k=args.top_k,
        sign_map=args.sign_map,
        video_settings=settings,
        video_workers=args.workers,
        min_confidence=args.min_confidence,
    )
    if run.threshold is None:
        print(
            f"{predictor.path}: uncalibrated (no calibration.json beside it): no clip is "
            "rejected for low confidence; --min-confidence sets a threshold",
            file=sys.stderr,
        )
    for pred in run.predictions:
        tops = ", ".join(f"{sign} {prob:.3f}" for sign, _, prob in pred.top)
        if pred.rejected:
            tops = f"{NO_SIGN} ({pred.rejected}; {tops})"
        print(f"{pred.path}\t{tops}")
    for path, why in run.failures:
        print(f"{path}\tSKIPPED: {why}", file=sys.stderr)
    if args.output:
        run.write_csv(args.output)
    print(
        f"predicted {len(run.predictions)} file(s): {len(run.rejected)} rejected as {NO_SIGN} "
        f"({_threshold_source(args, predictor)}), skipped {len(run.failures)}",
        file=sys.stderr,
    )
    return 0 if run.predictions else 1


def _threshold_source(args: argparse.Namespace, predictor) -> str:
    if args.min_confidence is not None:
        return f"below --min-confidence {args.min_confidence:g}"
    cal = predictor.calibration
    if cal is None:
        return "no landmarks only: uncalibrated"
    reached = "" if cal.target_met else ", target NOT reached on validation"
    return (
        f"below {cal.threshold:.3f}, the threshold for {100 * cal.target_precision:g} % "
        f"precision on validation{reached}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; exit status 1 on a known error or when nothing could be predicted."""
    return run_command("islr-predict", run, _parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
