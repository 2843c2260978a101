"""Prediction on Kaggle-layout parquet files with exported (.tflite) and Keras models.

TensorFlow-only (uses an export): skipped under other Keras backends.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

pytestmark = [
    pytest.mark.skipif(
        keras.backend.backend() != "tensorflow", reason="export needs the TensorFlow backend"
    ),
    # One worker builds this module's exports once (effective with `pytest --dist loadgroup`).
    pytest.mark.xdist_group(name="test_predict"),
]

from islr.data.reader import read_landmark_file  # noqa: E402
from islr.data.writer import write_landmark_file  # noqa: E402
from islr.landmarks import LHAND, RHAND  # noqa: E402
from test_export import NUM_CLASSES, _frames, export, keras_logits, make_run_dir  # noqa: E402


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("predict_run")
    run = make_run_dir(root, 21)
    out = root / "export"
    export([run], out, variants=("fp32", "fp16"), latency_runs=1)
    return out


@pytest.fixture(scope="module")
def landmark_dir(tmp_path_factory) -> Path:
    """Three good clips in a nested Kaggle layout, plus two bad files."""
    root = tmp_path_factory.mktemp("landmarks")
    rng = np.random.default_rng(0)
    clips = {"p1/100.parquet": 12, "p1/101.parquet": 40, "p2/sub/200.parquet": 3}
    for rel, t in clips.items():
        frames = _frames(rng, t)
        frames[:, list(LHAND if t % 2 else RHAND)] = np.nan  # one hand missing
        write_landmark_file(root / rel, frames, first_frame=5)
    (root / "p2" / "broken.parquet").write_bytes(b"this is not parquet")
    pd.DataFrame({"x": [0.1], "y": [0.2]}).to_parquet(root / "p2" / "columns.parquet")
    return root


def _signs(export_dir: Path) -> list[str]:
    mapping = json.loads((export_dir / "sign_to_prediction_index_map.json").read_text())
    return [s for s, _ in sorted(mapping.items(), key=lambda kv: kv[1])]


def test_tflite_predictions_match_keras_and_skip_bad_files(export_dir, landmark_dir) -> None:
    from islr.export import load_network, predict_files

    run = predict_files(export_dir / "model_fp32.tflite", [landmark_dir], top_k=3)
    assert sorted(Path(p).name for p, _ in run.failures) == ["broken.parquet", "columns.parquet"]
    assert all(why for _, why in run.failures)
    assert len(run.predictions) == 3
    signs = _signs(export_dir)
    net = load_network(export_dir.parent / "run_21")
    for pred in run.predictions:
        logits = keras_logits(net, read_landmark_file(pred.path))
        assert len(pred.top) == 3
        probs = [p for _, _, p in pred.top]
        assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-6
        sign, index, prob = pred.top[0]
        assert index == int(np.argmax(logits)) and sign == signs[index]
        softmax = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
        assert prob == pytest.approx(softmax[index], abs=1e-4)


def test_keras_model_and_run_dir_agree_with_tflite(export_dir, landmark_dir) -> None:
    from islr.export import predict_files

    files = [landmark_dir / "p1" / "101.parquet"]
    tfl = predict_files(export_dir / "model_fp16.tflite", files, top_k=NUM_CLASSES)
    ker = predict_files(export_dir / "model.keras", files, top_k=NUM_CLASSES)
    net = predict_files(export_dir.parent / "run_21", files, top_k=NUM_CLASSES)

    def probs(run) -> dict[int, float]:
        return {i: p for _, i, p in run.predictions[0].top}

    assert probs(tfl).keys() == probs(ker).keys() == set(range(NUM_CLASSES))
    assert max(abs(probs(tfl)[i] - probs(ker)[i]) for i in range(NUM_CLASSES)) < 1e-2
    assert max(abs(probs(net)[i] - probs(ker)[i]) for i in range(NUM_CLASSES)) < 1e-6


def test_sign_map_override_and_mismatch(export_dir, landmark_dir, tmp_path) -> None:
    from islr.export import predict_files

    names = {f"word{i}": i for i in range(NUM_CLASSES)}
    (tmp_path / "map.json").write_text(json.dumps(names))
    run = predict_files(
        export_dir / "model_fp32.tflite",
        [landmark_dir / "p1"],
        top_k=1,
        sign_map=tmp_path / "map.json",
    )
    assert all(p.top[0][0] == f"word{p.top[0][1]}" for p in run.predictions)
    (tmp_path / "small.json").write_text(json.dumps({"a": 0, "b": 1}))
    with pytest.raises(ValueError, match="2 signs"):
        predict_files(
            export_dir / "model_fp32.tflite", [landmark_dir], sign_map=tmp_path / "small.json"
        )


def test_cli_prints_writes_csv_and_exit_codes(export_dir, landmark_dir, tmp_path, capsys) -> None:
    from islr.cli.predict import main

    csv_path = tmp_path / "preds.csv"
    missing = tmp_path / "nope.parquet"
    code = main(
        [
            str(export_dir / "model_fp16.tflite"),
            str(landmark_dir),
            str(missing),
            "--top-k",
            "2",
            "--output",
            str(csv_path),
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0
    assert out.count("\n") == 3 and "101.parquet" in out
    assert "broken.parquet\tSKIPPED" in err and "nope.parquet\tSKIPPED" in err
    rows = list(csv.DictReader(csv_path.open()))
    assert len(rows) == 3 * 2
    assert {r["rank"] for r in rows} == {"1", "2"}
    assert all(r["sign"] in _signs(export_dir) for r in rows)

    code = main(
        [str(export_dir / "model_fp16.tflite"), str(landmark_dir / "p2" / "broken.parquet")]
    )
    assert code == 1  # nothing could be predicted
    assert main([str(tmp_path / "missing.tflite"), str(landmark_dir)]) == 1


def test_to_probabilities() -> None:
    from islr.export.predict import to_probabilities

    logits = np.array([2.0, -1.0, 0.5])
    p = to_probabilities(logits)
    assert p.sum() == pytest.approx(1.0) and np.argmax(p) == 0
    assert p[0] / p[2] == pytest.approx(np.exp(1.5))
    dist = np.array([0.7, 0.2, 0.1])
    np.testing.assert_array_equal(to_probabilities(dist), dist)


def test_round_trip_on_synthetic_dataset(export_dir, tiny_root) -> None:
    """Generator clips -> islr-predict's path: TFLite argmax == Keras argmax on every file."""
    from islr.export import load_network, predict_files

    files = sorted((tiny_root / "train_landmark_files").rglob("*.parquet"))[:12]
    run = predict_files(export_dir / "model_fp16.tflite", files, top_k=1)
    assert not run.failures and len(run.predictions) == len(files)
    net = load_network(export_dir.parent / "run_21")
    for pred in run.predictions:
        logits = keras_logits(net, read_landmark_file(pred.path))
        assert pred.top[0][1] == int(np.argmax(logits)), pred.path


# --- videos (landmarks by the real MediaPipe Holistic, in its own environment) ------------------
def test_videos_predict_like_their_extracted_landmark_files(
    export_dir, real_videos_dir, tmp_path
) -> None:
    from islr.data.video import HolisticSettings, extract_dataset, find_videos
    from islr.export import predict_files

    videos = [real_videos_dir / "hello" / "hello_1.mp4", real_videos_dir / "up" / "up_1.mp4"]
    broken = real_videos_dir / "face" / "face_1.mp4"
    few = HolisticSettings(max_frames=8)
    model = export_dir / "model_fp32.tflite"
    run = predict_files(model, [*videos, broken], top_k=3, video_settings=few, video_workers=2)
    assert [p.path for p in run.predictions] == [str(v) for v in videos]
    assert all(p.frames == 8 for p in run.predictions)
    assert run.failures == [(str(broken), run.failures[0][1])]
    assert "zero frames" in run.failures[0][1]

    root = tmp_path / "root"
    clips = find_videos(videos)
    extract_dataset(clips, root, settings=few, workers=1, progress=False)
    from_files = predict_files(model, [root / c.relative_path for c in clips], top_k=3)
    for a, b in zip(run.predictions, from_files.predictions, strict=True):
        assert [s for s, _, _ in a.top] == [s for s, _, _ in b.top]
        np.testing.assert_allclose([p for *_, p in a.top], [p for *_, p in b.top], rtol=1e-5)


def test_cli_stream_from_a_video_file(export_dir, real_videos_dir, capsys) -> None:
    from islr.cli.predict import main

    video = real_videos_dir / "hello" / "hello_1.mp4"  # 54 frames
    model = str(export_dir / "model_fp16.tflite")
    code = main([model, "--stream", str(video), "--window", "30", "--every", "10", "--top-k", "2"])
    out, err = capsys.readouterr()
    assert code == 0, err
    lines = out.strip().splitlines()
    assert [ln.split("\t")[0] for ln in lines] == [f"frame {n}" for n in (9, 19, 29, 39, 49)]
    signs = set(_signs(export_dir))
    for line in lines:
        shown = line.split("\t")[1]
        assert shown == "(no hand in view)" or all(
            part.rsplit(" ", 1)[0] in signs for part in shown.split(", ")
        )
    assert main([model, "--stream", str(video.parent / "missing.mp4")]) == 1
    assert "cannot open the video source" in capsys.readouterr().err


def test_cli_stream_records_annotated_video_and_show_needs_a_gui(
    export_dir, real_videos_dir, tmp_path, capsys
) -> None:
    import subprocess

    from islr.cli.predict import main
    from islr.data.video import ensure_python

    video = real_videos_dir / "hello" / "hello_1.mp4"  # 54 frames
    model = str(export_dir / "model_fp16.tflite")
    record = tmp_path / "annotated.mp4"
    assert main([model, "--stream", str(video), "--every", "27", "--record", str(record)]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 2
    probe = (
        "import cv2, sys\nc = cv2.VideoCapture(sys.argv[1])\nn = 0\n"
        "while c.read()[0]:\n    n += 1\nprint(n)"
    )
    counted = subprocess.run(
        [str(ensure_python()), "-c", probe, str(record)], capture_output=True, text=True
    )
    assert counted.stdout.strip() == "54"  # every frame drawn and written
    # The extraction environment has the headless OpenCV: --show says so in one line.
    assert main([model, "--stream", str(video), "--show"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "GUI support" in err[0] and "--record" in err[0]
    assert main([model, str(video), "--show"]) == 1
    assert "go with --stream" in capsys.readouterr().err
