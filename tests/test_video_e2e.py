"""A folder of real videos -> islr-extract -> islr-train (with export) -> islr-predict on a video.

The README's video workflow, through the installed console scripts. Kept small: a few frames
per clip, a tiny model, one epoch; the point is that every stage accepts the previous one's
output unchanged. Export needs TensorFlow: skipped under other Keras backends.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import keras
import pytest

from islr.data import read_train_csv

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        keras.backend.backend() != "tensorflow", reason="export needs the TensorFlow backend"
    ),
]

BIN = Path(sys.executable).parent


def _run(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(BIN / args[0]), *args[1:]], capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, f"{args[0]} failed:\n{result.stderr[-3000:]}"
    return result


def test_videos_to_trained_exported_model_to_prediction(real_videos_dir, tmp_path) -> None:
    # Folds are grouped by signer; the sample has one signer, so a manifest gives three.
    videos = sorted(real_videos_dir.rglob("*.mp4"))
    manifest = tmp_path / "labels.csv"
    rows = [f'"{v}",{v.parent.name},{100 + i % 3}' for i, v in enumerate(videos)]
    manifest.write_text("video,sign,participant_id\n" + "\n".join(rows) + "\n")
    root = tmp_path / "my_signs"
    _run("islr-extract", "--manifest", str(manifest), "--out", str(root), "--max-frames", "12")
    df = read_train_csv(root)
    assert len(df) == len(videos) - 1  # the broken clip is skipped (and reported)

    run_dir = tmp_path / "run"
    _run(
        "islr-train",
        "model=tiny",
        "model.dim=32",
        "model.num_heads=2",
        "augment=light",
        "data.max_len=32",
        "data.batch_size=8",
        "data.num_folds=3",
        f"data.root={root}",
        f"data.cache_dir={tmp_path / 'cache'}",
        "trainer.epochs=1",
        "export.variants=[fp32]",
        "export.submission_variant=fp32",
        "export.latency_runs=1",
        f"hydra.run.dir={run_dir}",
    )
    model = run_dir / "export" / "model_fp32.tflite"
    assert model.is_file() and (run_dir / "export" / "submission.zip").is_file()

    clip = real_videos_dir / "hello" / "hello_1.mp4"
    out = _run("islr-predict", str(model), str(clip), "--top-k", "3").stdout
    line = out.strip().splitlines()[-1]
    assert line.startswith(str(clip)) and len(line.split("\t")[1].split(", ")) == 3
    assert all(part.rsplit(" ", 1)[0] in set(df.sign) for part in line.split("\t")[1].split(", "))
