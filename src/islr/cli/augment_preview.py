"""``islr-augment-preview``: draw what each augmentation does to one landmark file.

Reads a Kaggle landmark parquet, keeps the 118 selected points, drops frames in which all of them
are undetected (as training does before augmenting) and writes one PNG per augmentation, plus one
for the full ``Augmenter``, each showing the original and a few augmented samples. Single
augmentations use the recipe's ranges and are always applied; the crop keeps half the frames
(``--crop-len``) so that its effect is visible on short clips.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from islr import landmarks
from islr.augment import ops
from islr.augment.augmenter import Augmenter
from islr.cli._errors import run_command

logger = logging.getLogger("islr.augment_preview")

Transform = Callable[[np.ndarray, np.random.Generator], np.ndarray]
AUGMENTATIONS: tuple[str, ...] = (
    "resample",
    "flip",
    "crop",
    "affine",
    "temporal_mask",
    "cutout",
    "augmenter",
)


def build_transforms(max_len: int, crop_len: int) -> dict[str, Transform]:
    """The previewed transforms by name, each using the recipe's ranges (``Augmenter`` defaults)."""
    rec = Augmenter(max_len=max_len)
    return {
        "resample": lambda x, r: ops.temporal_resample(x, r, rec.resample_scale),
        "flip": lambda x, r: ops.horizontal_flip(x),
        "crop": lambda x, r: ops.random_crop(x, r, crop_len),
        "affine": lambda x, r: ops.random_affine(
            x,
            r,
            scale=rec.affine_scale,
            shear=rec.affine_shear,
            rotate_deg=rec.affine_rotate_deg,
            shift=rec.affine_shift,
        ),
        "temporal_mask": lambda x, r: ops.temporal_mask(x, r, rec.temporal_mask_size),
        "cutout": lambda x, r: ops.spatial_cutout(x, r, rec.cutout_size),
        "augmenter": rec,
    }


def load_points(path: Path) -> np.ndarray:
    """The 118 selected points of a landmark file, without all-undetected frames."""
    from islr.data import read_landmark_file

    frames = read_landmark_file(path)
    points = np.take(frames, landmarks.POINT_INDICES, axis=1)
    keep = ~np.isnan(points).all(axis=(1, 2))
    if not keep.any():
        raise ValueError(f"{path}: none of the 118 selected landmarks is detected in any frame")
    return points[keep]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="islr-augment-preview",
        description="Write PNGs showing each augmentation applied to one landmark parquet file.",
    )
    parser.add_argument("file", type=Path, help="a Kaggle landmark .parquet file")
    parser.add_argument("--out", type=Path, required=True, help="folder for the PNGs")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--which",
        choices=("all", *AUGMENTATIONS),
        default="all",
        help="which augmentation to draw (default: all of them, one PNG each)",
    )
    parser.add_argument("--samples", type=int, default=3, help="augmented samples per PNG")
    parser.add_argument("--frames", type=int, default=4, help="frames shown per sequence")
    parser.add_argument(
        "--max-len", type=int, default=landmarks.MAX_LEN, help="Augmenter crop length"
    )
    parser.add_argument(
        "--crop-len", type=int, default=None, help="crop preview length (default: half of T)"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    parser.add_argument("--verbose", action="store_true", help="show tracebacks of errors")
    args = parser.parse_args(argv)
    for name in ("samples", "frames", "max_len"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.crop_len is not None and args.crop_len < 1:
        parser.error("--crop-len must be >= 1")
    return args


def run(args: argparse.Namespace) -> int:
    """The command behind the parsed arguments (raises islr's errors)."""
    if not args.file.is_file():
        raise FileNotFoundError(f"{args.file}: no such landmark file; give a .parquet file")
    if args.out.exists() and not args.out.is_dir():
        raise ValueError(f"--out {args.out}: exists and is not a folder; give a folder for PNGs")
    from islr.augment.preview import render_preview

    points = load_points(args.file)
    n_frames = points.shape[0]
    logger.info("%s: %d frames with landmarks", args.file, n_frames)
    crop_len = args.crop_len or max(1, n_frames // 2)
    transforms = build_transforms(args.max_len, crop_len)
    names = AUGMENTATIONS if args.which == "all" else (args.which,)
    for name in names:
        # One generator per augmentation, so each PNG is reproducible on its own.
        rng = np.random.default_rng([args.seed, AUGMENTATIONS.index(name)])
        n_samples = 1 if name == "flip" else args.samples  # the flip is deterministic
        samples = [transforms[name](points, rng) for _ in range(n_samples)]
        labels = [f"{name} {i + 1} (T={s.shape[0]})" for i, s in enumerate(samples)]
        path = render_preview(
            points,
            samples,
            args.out / f"{args.file.stem}_{name}.png",
            title=f"{args.file.name}: {name} (seed {args.seed})",
            n_frames=args.frames,
            labels=labels,
        )
        print(path)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; a known error ends it with one line and exit status 1."""
    return run_command("islr-augment-preview", run, parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
