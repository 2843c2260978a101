"""The run-directory layout (islr.run_layout): the names every stage reads and writes."""

from __future__ import annotations

from pathlib import Path

from islr.data.reader import SIGN_MAP_FILENAME, read_sign_map
from islr.run_layout import CHECKPOINT, ExportLayout, RunLayout


def test_run_layout_names_the_documented_files(tmp_path: Path) -> None:
    layout = RunLayout(str(tmp_path))  # a str is accepted and kept as a Path
    assert layout.run_dir == tmp_path
    rel = {
        name: getattr(layout, name).relative_to(tmp_path).as_posix()
        for name in (
            "checkpoints",
            "best",
            "last",
            "last_weights",
            "state",
            "metrics_json",
            "metrics_csv",
            "sign_map",
            "curves",
            "confusion",
            "confusions_csv",
            "per_sign_accuracy_csv",
            "per_sign_accuracy_png",
            "calibration",
            "reliability",
            "hydra_config",
            "export",
        )
    }
    assert rel == {
        "checkpoints": "checkpoints",
        "best": "checkpoints/best.keras",
        "last": "checkpoints/last.keras",
        "last_weights": "checkpoints/last.weights.h5",
        "state": "checkpoints/state.json",
        "metrics_json": "metrics.json",
        "metrics_csv": "metrics.csv",
        "sign_map": "sign_to_prediction_index_map.json",
        "curves": "curves.png",
        "confusion": "confusion.png",
        "confusions_csv": "confusions.csv",
        "per_sign_accuracy_csv": "per_sign_accuracy.csv",
        "per_sign_accuracy_png": "per_sign_accuracy.png",
        "calibration": "calibration.json",
        "reliability": "reliability.png",
        "hydra_config": ".hydra/config.yaml",
        "export": "export",
    }
    assert layout.best == tmp_path / CHECKPOINT


def test_export_layout_names_the_documented_files(tmp_path: Path) -> None:
    layout = ExportLayout(tmp_path)
    assert layout.inference_keras.name == "model.keras"
    assert layout.saved_model.name == "saved_model"
    assert layout.tflite("fp16").name == "model_fp16.tflite"
    assert layout.submission.name == "submission.zip"
    assert layout.report_json.name == "report.json"
    assert layout.report_md.name == "report.md"
    assert layout.calibration.name == "calibration.json"
    assert layout.sign_map.parent == tmp_path


def test_a_runs_sign_map_reads_like_the_datas(tmp_path: Path) -> None:
    # The run and the export keep the Kaggle file name, so read_sign_map(dir) finds it.
    assert RunLayout(tmp_path).sign_map.name == SIGN_MAP_FILENAME
    RunLayout(tmp_path).sign_map.write_text('{"a": 0, "b": 1}')
    assert read_sign_map(tmp_path) == {"a": 0, "b": 1}
