"""The augmentation preview: PNG rendering and the islr-augment-preview command."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from islr import landmarks
from islr.augment.preview import render_preview
from islr.cli import augment_preview

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def make_points(n_frames: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.3, 0.7, size=(n_frames, landmarks.N_POINTS, 3)).astype(np.float32)
    x[1, landmarks.GROUP_SLICES["rhand"]] = np.nan
    return x


def test_render_preview_writes_png(tmp_path: Path) -> None:
    x = make_points(6)
    blank = np.full_like(x[:2], np.nan)  # an all-undetected sequence must still draw
    out = render_preview(x, [x[::-1], blank], tmp_path / "sub" / "p.png", title="t", n_frames=3)
    assert out == tmp_path / "sub" / "p.png"
    data = out.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 1000


def test_render_preview_rejects_bad_input(tmp_path: Path) -> None:
    x = make_points(4)
    with pytest.raises(ValueError, match="labels"):
        render_preview(x, [x], tmp_path / "p.png", labels=["a", "b"])
    with pytest.raises(ValueError, match=r"augmented_list\[0\]"):
        render_preview(x, [x[:, :10]], tmp_path / "p.png")
    assert not (tmp_path / "p.png").exists()


def write_kaggle_parquet(path: Path, n_frames: int, seed: int = 0) -> None:
    """A landmark file in the Kaggle layout: 543 rows per frame, fixed landmark order."""
    rng = np.random.default_rng(seed)
    types = np.concatenate([[name] * n for name, n in landmarks.LANDMARK_TYPES])
    index = np.concatenate([np.arange(n) for _, n in landmarks.LANDMARK_TYPES])
    frame_ids = np.repeat(np.arange(10, 10 + n_frames), landmarks.N_LANDMARKS)
    xyz = rng.uniform(0.2, 0.8, size=(n_frames * landmarks.N_LANDMARKS, 3))
    left = np.tile(types == "left_hand", n_frames)
    xyz[left] = np.nan  # a one-handed signer: the left hand is never detected
    df = pd.DataFrame(
        {
            "frame": frame_ids.astype(np.int16),
            "row_id": [
                f"{f}-{t}-{i}"
                for f, t, i in zip(
                    frame_ids, np.tile(types, n_frames), np.tile(index, n_frames), strict=True
                )
            ],
            "type": np.tile(types, n_frames),
            "landmark_index": np.tile(index, n_frames).astype(np.int16),
            "x": xyz[:, 0],
            "y": xyz[:, 1],
            "z": xyz[:, 2],
        }
    )
    df.to_parquet(path, index=False)


def test_cli_writes_one_png_per_requested_augmentation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "123.parquet"
    write_kaggle_parquet(src, n_frames=8)
    out_dir = tmp_path / "png"
    argv = [str(src), "--out", str(out_dir), "--which", "flip", "--samples", "1", "--frames", "2"]
    assert augment_preview.main(argv) == 0
    printed = capsys.readouterr().out.split()
    assert printed == [str(out_dir / "123_flip.png")]
    assert Path(printed[0]).read_bytes().startswith(PNG_MAGIC)


def test_cli_missing_file_fails_clearly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert augment_preview.main([str(tmp_path / "nope.parquet"), "--out", str(tmp_path)]) == 1
    assert "nope.parquet" in capsys.readouterr().err


def test_each_preview_switches_on_its_augmentation_only() -> None:
    previews = augment_preview.preview_settings(max_len=64, crop_len=5)
    assert set(previews) == set(augment_preview.AUGMENTATIONS)
    recipe = previews["augmenter"]
    assert recipe.max_len == 64 and recipe.resample_p == 0.8  # conf/augment/default.yaml
    for name, switch in (("flip", "flip_p"), ("cutout", "cutout_p"), ("crop", None)):
        s = previews[name]
        on = {p for p in ("resample_p", "flip_p", "affine_p", "temporal_mask_p", "cutout_p")}
        assert {p for p in on if getattr(s, p) > 0} == ({switch} if switch else set())
        assert s.max_len == (5 if name == "crop" else None)
        assert s.cutout_size == recipe.cutout_size  # the recipe's ranges
