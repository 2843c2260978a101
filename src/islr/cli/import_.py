"""``islr-import``: landmarks recorded elsewhere -> the Kaggle ISLR layout, and back to ``.pose``.

Examples::

    islr-import mp-data recordings/ --out data/mine            # <signer>/MP_Data/<sign>/<seq>/
    islr-import mp-data recordings/ --out data/mine --sign-map kaggle --strict-signs
    islr-import pose poses/ --out data/mine                    # <signer>/<sign>/<name>.pose
    islr-import to-pose data/mine --out poses_out/             # a data root as .pose files

The result is a data root every islr command reads: ``islr-train data.root=data/mine``.
See docs/importing.md.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from islr.cli._args import add_verbosity, add_work_list
from islr.cli._errors import run_command
from islr.data.reader import DataError

KAGGLE_MAP = "kaggle"  # --sign-map value naming the packaged 250-sign map


def _alias(text: str) -> tuple[str, str]:
    source, sep, target = text.partition("=")
    if not sep or not source.strip() or not target.strip():
        raise argparse.ArgumentTypeError(f"--alias {text!r}: expected FROM=TO, e.g. thx=thankyou")
    return source.strip(), target.strip()


def _add_import_options(p: argparse.ArgumentParser, what: str) -> None:
    add_work_list(
        p,
        inputs=what,
        out="data root to write (or extend)",
        out_required=True,
        manifest_columns="path[, sign, participant_id]",
    )
    p.add_argument(
        "--sign-map",
        help=f"existing sign map to map signs onto and extend ({KAGGLE_MAP!r}: the Kaggle map)",
    )
    p.add_argument(
        "--strict-signs",
        action="store_true",
        help="skip (and report) recordings whose sign is not in --sign-map",
    )
    p.add_argument(
        "--alias",
        type=_alias,
        action="append",
        default=[],
        metavar="FROM=TO",
        help="an extra sign alias (repeatable), e.g. --alias thx=thankyou",
    )
    p.add_argument(
        "--no-builtin-aliases", action="store_true", help="do not apply islr's alias table"
    )
    p.add_argument(
        "--participant-id", type=int, help="participant id of every recording without one"
    )
    add_verbosity(p, "no progress bar, warnings only")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="islr-import",
        description="Import landmarks recorded elsewhere into the Kaggle ISLR layout (train.csv, "
        "train_landmark_files/<participant>/<sequence>.parquet, sign map), or write a data "
        "root's landmarks as .pose files. Finished recordings are never redone; skipped ones "
        "are listed in import_skipped.csv. See docs/importing.md.",
    )
    commands = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    mp = commands.add_parser(
        "mp-data",
        help="MP_Data folders (<signer>/MP_Data/<sign>/<sequence>/<frame>.npy)",
        description="Import the action-detection tutorial's MP_Data folders; the vector layout "
        "of each signer is detected from its values.",
    )
    _add_import_options(mp, "folders holding MP_Data folders, or MP_Data folders")
    pose = commands.add_parser(
        "pose",
        help=".pose files (<signer>/<sign>/<name>.pose) of MediaPipe Holistic",
        description='Import .pose files (pose-format; needs pip install "islr[pose]").',
    )
    _add_import_options(pose, ".pose files and/or folders")
    out = commands.add_parser(
        "to-pose",
        help="write a data root's (or one parquet file's) landmarks as .pose files",
        description="Write Kaggle-layout landmark files as .pose files "
        "(<out>/<participant_id>/<sign>/<sequence_id>.pose), which pose-format reads.",
    )
    out.add_argument("source", type=Path, help="a data root (with train.csv) or a .parquet file")
    out.add_argument("--out", type=Path, required=True, help="folder to write the .pose files in")
    out.add_argument("--width", type=int, default=1000, help="image width in pixels (1000)")
    out.add_argument("--height", type=int, default=1000, help="image height in pixels (1000)")
    out.add_argument("--fps", type=float, default=30.0, help="frames per second (30)")
    add_verbosity(out, "no progress bar")
    return p


def _sign_names(args: argparse.Namespace):
    from islr.data.importers import SignNames
    from islr.data.reader import read_sign_map

    vocabulary = None
    if args.sign_map is not None:
        vocabulary = read_sign_map(None if args.sign_map == KAGGLE_MAP else args.sign_map)
    elif args.strict_signs:
        raise DataError("--strict-signs needs --sign-map")
    return SignNames(
        vocabulary,
        dict(args.alias),
        builtin_aliases=not args.no_builtin_aliases,
        strict=args.strict_signs,
    )


def _import(args: argparse.Namespace) -> int:
    from islr.data import importers

    if not args.inputs and args.manifest is None:
        raise DataError("give folders/files to import or --manifest CSV")
    names = _sign_names(args)
    items = []
    if args.command == "mp-data":
        if args.manifest is not None:
            items += importers.read_mp_data_manifest(args.manifest, args.participant_id)
        for src in args.inputs:
            items += importers.find_mp_data(src, args.participant_id)
        load = importers.MpDataReader(items)
    else:
        importers.pose_format()  # a missing package is one clear error, before any work
        if args.manifest is not None:
            items += importers.read_pose_manifest(args.manifest, args.participant_id)
        if args.inputs:
            items += importers.find_pose_files(args.inputs, args.participant_id)
        load = importers.load_pose_recording
    report = importers.import_recordings(
        items, args.out, load, names=names, progress=not args.quiet, desc=args.command
    )
    if isinstance(load, importers.MpDataReader):
        for folder, layouts in load.layouts.items():
            for layout in layouts.values():
                print(f"layout of {Path(folder).parent.name}/{Path(folder).name}: {layout}")
    for source, sign in sorted(report.renamed.items()):
        print(f"sign {source!r} -> {sign!r}")
    for source, sign, why in report.skipped:
        print(f"SKIPPED {source} ({sign}): {why}", file=sys.stderr)
    print(report)
    if report.skipped:
        print(f"skip report: {args.out / importers.SKIPPED_CSV}")
    return 0 if report.rows else 1


def _to_pose(args: argparse.Namespace) -> int:
    from islr.data.importers import export_pose_files

    report = export_pose_files(
        args.source,
        args.out,
        width=args.width,
        height=args.height,
        fps=args.fps,
        progress=not args.quiet,
    )
    for parquet, why in report.skipped:
        print(f"SKIPPED {parquet}: {why}", file=sys.stderr)
    print(report)
    return 0 if report.written + report.already_done else 1


def run(args: argparse.Namespace) -> int:
    """The command behind the parsed arguments (raises islr's errors)."""
    return _to_pose(args) if args.command == "to-pose" else _import(args)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``islr-import``: a known error is one line on stderr and exit 1."""
    return run_command("islr-import", run, _parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
