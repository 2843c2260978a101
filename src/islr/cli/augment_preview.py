"""``islr-augment-preview``: draw what each augmentation does to one landmark file.

Reads a Kaggle landmark parquet, keeps the 118 selected points, drops frames in which all of them
are undetected (as training does before augmenting) and writes one PNG per augmentation, plus one
for all of them together (``augmenter``: the recipe as training applies it), each showing the
original and a few augmented samples. They come from the layer training runs
(:class:`islr.augment.BatchAugmentation`) with the settings of ``conf/augment/default.yaml``;
a single augmentation is always applied and the others are off; the crop keeps half the frames
(``--crop-len``) so that its effect is visible on short clips.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from islr import landmarks
from islr.augment import AugmentSettings
from islr.cli._errors import import_quietly, run_command
from islr.config import group_config

logger = logging.getLogger("islr.augment_preview")

AUGMENTATIONS: tuple[str, ...] = (
    "resample",
    "flip",
    "crop",
    "affine",
    "temporal_mask",
    "cutout",
    "augmenter",
)
# The probability that switches each augmentation on (the crop is on whenever max_len is set).
_SWITCHES = ("resample_p", "flip_p", "affine_p", "temporal_mask_p", "cutout_p")
_ONLY: dict[str, str | None] = {
    "resample": "resample_p",
    "flip": "flip_p",
    "crop": None,
    "affine": "affine_p",
    "temporal_mask": "temporal_mask_p",
    "cutout": "cutout_p",
}


def preview_settings(max_len: int, crop_len: int) -> dict[str, AugmentSettings]:
    """The previewed settings by name: the recipe's (``conf/augment/default.yaml``) with
    ``max_len`` for ``augmenter``; one augmentation always on, the others off, for the rest."""
    recipe = AugmentSettings(**_recipe_values(max_len))
    previews = {"augmenter": recipe}
    for name, switch in _ONLY.items():
        changes: dict = {p: 0.0 for p in _SWITCHES}
        changes["max_len"] = crop_len if name == "crop" else None
        if switch is not None:
            changes[switch] = 1.0
        previews[name] = recipe.replace(**changes)
    return previews


def _recipe_values(max_len: int) -> dict:
    from omegaconf import OmegaConf

    node = group_config("augment", "default", [f"data.max_len={max_len}"])
    values = OmegaConf.to_container(node, resolve=True)
    assert isinstance(values, dict)
    values.pop("_target_")
    return values


def augmented_samples(
    points: np.ndarray, settings: AugmentSettings, n_samples: int, seed: int
) -> list[np.ndarray]:
    """``n_samples`` augmentations of ``points`` (``[T, 118, 3]``) by the training layer."""
    import_quietly("keras")
    import keras

    from islr.augment.batched import BatchAugmentation

    layer = BatchAugmentation.from_settings(settings, seed=seed)
    batch = np.repeat(points[None].astype(np.float32), n_samples, axis=0)
    out = np.asarray(keras.ops.convert_to_numpy(layer(batch, training=True)))
    real = (out != landmarks.PAD_VALUE).any(axis=(2, 3))  # NaN (blanked) frames count
    samples = []
    for row, frames in zip(out, real, strict=True):
        n = int(np.flatnonzero(frames).max()) + 1 if frames.any() else 0
        samples.append(row[:n])
    return samples


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
        "--max-len",
        type=int,
        default=None,
        help="crop length of the recipe (default: data.max_len of conf/data/kaggle.yaml)",
    )
    parser.add_argument(
        "--crop-len", type=int, default=None, help="crop preview length (default: half of T)"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    parser.add_argument("--verbose", action="store_true", help="show tracebacks of errors")
    args = parser.parse_args(argv)
    if args.max_len is None:
        args.max_len = int(group_config("data", "kaggle").max_len)
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
    previews = preview_settings(args.max_len, crop_len)
    names = AUGMENTATIONS if args.which == "all" else (args.which,)
    for name in names:
        n_samples = 1 if name == "flip" else args.samples  # the flip is deterministic
        # One seed per augmentation, so each PNG is reproducible on its own.
        seed = args.seed * len(AUGMENTATIONS) + AUGMENTATIONS.index(name)
        samples = augmented_samples(points, previews[name], n_samples, seed)
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
