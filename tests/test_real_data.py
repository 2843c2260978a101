"""Every stage on the 74 real Kaggle asl-signs files (``../shared/data/asl-signs-sample``).

Skipped, with the reason shown, where ``../shared`` is absent (a user's fresh clone).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from islr.data import ensure_cache, read_landmark_file, read_train_csv

BIN = Path(sys.executable).parent
CONF_DIR = Path(__file__).resolve().parents[1] / "conf"


@pytest.fixture(scope="module")
def real_frames(real_sample_root: Path) -> list[np.ndarray]:
    df = read_train_csv(real_sample_root)
    return [read_landmark_file(real_sample_root / rel) for rel in df.path]


def test_reader_reads_all_74_real_files(real_sample_root, real_frames) -> None:
    df = read_train_csv(real_sample_root)
    assert len(df) == 74 and df.participant_id.nunique() >= 11
    assert all(f.dtype == np.float32 and f.shape[1:] == (543, 3) for f in real_frames)
    assert min(len(f) for f in real_frames) >= 3 and max(len(f) for f in real_frames) <= 120


def test_cache_holds_every_real_file(real_sample_root, real_frames, tmp_path) -> None:
    cache = ensure_cache(real_sample_root, tmp_path / "cache", num_folds=5, workers=1)
    assert len(cache) == 74
    folds = pd.Series(np.asarray(cache.folds))
    pids = read_train_csv(real_sample_root).participant_id
    # grouped: no signer spans two folds
    assert pd.DataFrame({"p": pids, "f": folds}).groupby("p").f.nunique().max() == 1


@pytest.mark.backend
def test_features_are_finite_on_real_files(real_frames) -> None:
    from islr.features import extract_features

    for frames in real_frames:
        features = np.asarray(extract_features(frames, max_len=None))
        assert features.shape == (min(len(frames), 384), 708)
        assert np.isfinite(features).all()
        assert np.abs(features).max() > 0  # real signal, not an all-zero fallback


def test_augment_preview_draws_a_real_file(real_sample_root, tmp_path) -> None:
    from islr.cli import augment_preview

    path = real_sample_root / read_train_csv(real_sample_root).path[0]
    argv = [str(path), "--out", str(tmp_path), "--which", "affine", "--samples", "2"]
    assert augment_preview.main(argv) == 0
    png = tmp_path / f"{path.stem}_affine.png"
    assert png.read_bytes().startswith(b"\x89PNG")


@pytest.mark.slow
def test_tiny_training_on_real_hello_vs_thankyou(real_sample_root, tmp_path) -> None:
    """islr-train end to end on the real clips of two signs, folds grouped by signer."""
    df = read_train_csv(real_sample_root)
    df = df[df.sign.isin(["hello", "thankyou"])].copy()
    df["path"] = [str(real_sample_root / p) for p in df.path]  # absolute: no copy of the data
    root = tmp_path / "root"
    root.mkdir()
    df.drop(columns="label").to_csv(root / "train.csv", index=False)
    (root / "sign_to_prediction_index_map.json").write_text('{"hello": 0, "thankyou": 1}')
    run_dir = tmp_path / "run"
    result = subprocess.run(
        [
            str(BIN / "islr-train"),
            "model=tiny",
            "model.dim=32",
            "model.num_heads=2",
            "augment=light",
            "data.max_len=64",
            "data.batch_size=16",
            f"data.root={root}",
            f"data.cache_dir={tmp_path / 'cache'}",
            "data.fold=0",
            "trainer.epochs=2",
            "export.enabled=false",
            f"hydra.run.dir={run_dir}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = pd.read_json(run_dir / "metrics.json", typ="series")
    assert 0.0 <= metrics["val_top1"] <= 1.0 and np.isfinite(metrics["val_loss"])
    held_out = pd.read_csv(run_dir / "per_sign_accuracy.csv")
    assert set(held_out.sign) == {"hello", "thankyou"} and held_out.samples.sum() > 0
