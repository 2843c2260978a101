"""The browser bundle of an export: the fixed-window web model and ``<export>/web/``.

The web model must give the Kaggle-contract model's scores on the real frames of its window
and never read the padding; the bundle must hold the app, the model and every vendor file,
and be skipped (one warning) where the npm packages are absent.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import keras
import numpy as np
import pytest

pytestmark = [
    pytest.mark.skipif(
        keras.backend.backend() != "tensorflow", reason="export needs the TensorFlow backend"
    ),
    pytest.mark.xdist_group(name="test_web_export"),
]

from test_export import NUM_CLASSES, _frames, make_run_dir  # noqa: E402

WINDOW = 16
NODE_MODULES = Path(__file__).resolve().parents[1] / "web" / "node_modules"
needs_npm = pytest.mark.skipif(
    not (NODE_MODULES / "@mediapipe" / "holistic").is_dir(),
    reason="web/node_modules absent: run `make install` (node + npm) or `npm ci --prefix web`",
)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A small trained-like network: its inference model, Kaggle fp32 TFLite and web TFLite."""
    from islr.export import tflite
    from islr.export.inference import build_inference_model, load_network
    from islr.export.web_model import WebModelRunner, build_web_model, convert_web_model

    root = tmp_path_factory.mktemp("web_runs")
    run = make_run_dir(root, 31)
    model = build_inference_model([load_network(run)], max_len=None, output="logits")
    saved = tflite.write_saved_model(model, root / "saved_model")
    kaggle = tflite.TFLiteRunner(tflite.convert_saved_model(saved, "fp32"))
    web_tflite = convert_web_model(build_web_model(model, WINDOW))
    return {"run": run, "model": model, "kaggle": kaggle, "web": WebModelRunner(web_tflite)}


def _keras(model, frames: np.ndarray) -> np.ndarray:
    from islr.export.inference import run_keras

    return run_keras(model, frames)


def test_web_model_has_fixed_shapes(models) -> None:
    runner = models["web"]._runner
    inputs, outputs = runner.get_input_details(), runner.get_output_details()
    assert sorted(inputs) == ["frames", "length"]
    assert list(inputs["frames"]["shape_signature"]) == [WINDOW, 543, 3]
    assert inputs["frames"]["dtype"] == np.float32
    assert list(inputs["length"]["shape_signature"]) == [1]
    assert inputs["length"]["dtype"] == np.int32
    assert list(outputs) == ["scores"]
    assert list(outputs["scores"]["shape_signature"]) == [NUM_CLASSES]


@pytest.mark.parametrize("frames", [1, 5, WINDOW, WINDOW + 23])
def test_web_model_equals_kaggle_model_on_the_window(models, frames) -> None:
    video = _frames(np.random.default_rng(frames), frames)
    video[: frames // 2, 522:] = np.nan  # a hand missing for a while, as in real clips
    window = video[-WINDOW:]  # a clip longer than W is given as its last W frames
    got = models["web"](video)
    np.testing.assert_allclose(got, models["kaggle"](window), atol=1e-4, rtol=0)
    np.testing.assert_allclose(got, _keras(models["model"], window), atol=1e-4, rtol=0)


def test_padding_is_never_read(models) -> None:
    video = _frames(np.random.default_rng(7), 6)
    rng = np.random.default_rng(8)
    fills = [
        np.float32(np.nan),
        np.float32(0.0),
        np.float32(np.inf),
        rng.normal(0.0, 1e6, (WINDOW, 543, 3)).astype(np.float32),
        _frames(rng, WINDOW),  # plausible stale frames
    ]
    outputs = [models["web"](video, fill) for fill in fills]
    for out in outputs[1:]:
        np.testing.assert_array_equal(out, outputs[0])


def test_length_is_clipped_to_the_window(models) -> None:
    from islr.export.web_model import pad_window

    runner = models["web"]._runner
    video = _frames(np.random.default_rng(9), WINDOW)

    def scores(length: int) -> np.ndarray:
        frames = pad_window(video, WINDOW)
        return runner(frames=frames, length=np.array([length], np.int32))["scores"]

    np.testing.assert_array_equal(scores(10_000), scores(WINDOW))
    np.testing.assert_array_equal(scores(0), scores(1))


def test_web_parity_gate_catches_a_different_model(models, tmp_path) -> None:
    from islr.export.inference import build_inference_model, load_network
    from islr.export.parity import ParityError, parity_inputs
    from islr.export.web_model import (
        WebModelRunner,
        build_web_model,
        check_web_parity,
        convert_web_model,
    )

    model = models["model"]
    videos = parity_inputs(24)
    results = check_web_parity(lambda f: _keras(model, f), models["web"], videos, 1e-4)
    assert {r.variant for r in results} == {"web"}
    assert len(results) == 2 * len(videos)  # NaN and garbage padding
    assert {r.frames for r in results} == {1, WINDOW}

    other = build_inference_model(
        [load_network(make_run_dir(tmp_path, 32))], max_len=None, output="logits"
    )
    wrong = WebModelRunner(convert_web_model(build_web_model(other, WINDOW)))
    with pytest.raises(ParityError, match="web"):
        check_web_parity(lambda f: _keras(model, f), wrong, videos, 1e-4)


def _app(root: Path) -> Path:
    app = root / "app"
    (app / "css").mkdir(parents=True)
    (app / "index.html").write_text("<!doctype html><title>islr</title>")
    (app / "app.js").write_text("export const answer = 42;\n")
    (app / "css" / "app.css").write_text("body { margin: 0; }\n")
    return app


@needs_npm
def test_export_web_writes_the_bundle(models, tmp_path) -> None:
    from islr.export.parity import parity_inputs
    from islr.export.spot import SpotSettings
    from islr.export.web_bundle import VENDOR_FILES, export_web
    from islr.export.web_settings import WebSettings

    app = _app(tmp_path)
    signs = {f"sign_{i}": NUM_CLASSES - 1 - i for i in range(NUM_CLASSES)}
    spot = SpotSettings.shipped(window=WINDOW, stride=WINDOW // 2)
    settings = WebSettings(
        enabled=True, window=WINDOW, every=4, top_k=2, app_dir=str(app), node_modules=None
    )
    result = export_web(
        tmp_path / "export",
        models["model"],
        signs,
        settings,
        output="logits",
        videos=parity_inputs(24),
        keras_fn=lambda f: _keras(models["model"], f),
        tolerance=1e-4,
        spot=spot,
        calibration={"temperature": 1.5, "threshold": 0.7, "coverage": 0.9},
    )
    web = tmp_path / "export" / "web"
    assert result.status.startswith("written"), result.status
    for name in ("index.html", "app.js", "css/app.css"):
        assert (web / name).read_bytes() == (app / name).read_bytes(), name
    for folder, (package, files) in VENDOR_FILES.items():
        for target, source in files.items():
            copied = web / "vendor" / folder / target
            assert copied.read_bytes() == (NODE_MODULES / package / source).read_bytes(), target
    assert (web / "vendor" / "wasm-utils" / "index.js").is_file()
    assert not (web / "vendor" / "holistic" / "pose_landmark_heavy.tflite").exists()

    info = json.loads((web / "model.json").read_text())
    assert info["window"] == WINDOW and info["every"] == 4 and info["top_k"] == 2
    assert info["num_classes"] == NUM_CLASSES
    assert info["inputs"] == {"frames": [WINDOW, 543, 3], "length": [1]}
    assert info["signs"] == [f"sign_{NUM_CLASSES - 1 - i}" for i in range(NUM_CLASSES)]
    assert json.loads((web / "sign_to_prediction_index_map.json").read_text()) == signs
    # the page's spotting: conf/spot's settings and the model's calibration, nothing else
    assert info["spot"] == spot.as_dict()
    assert info["calibration"] == {"temperature": 1.5, "threshold": 0.7}

    from islr.export.web_model import WebModelRunner

    video = _frames(np.random.default_rng(3), 9)
    np.testing.assert_array_equal(WebModelRunner(web / "model.tflite")(video), models["web"](video))
    size = sum(p.stat().st_size for p in web.rglob("*") if p.is_file())
    assert size < 70 * 2**20, f"bundle is {size / 2**20:.1f} MB"
    names = [f.file for f in result.files]
    assert names == ["web/model.tflite", "web/"]
    assert result.files[0].max_abs_diff <= 1e-4 and result.files[0].argmax_agreement


def test_export_web_skips_without_npm_packages(models, tmp_path, caplog) -> None:
    from islr.export.parity import parity_inputs
    from islr.export.web_bundle import export_web
    from islr.export.web_settings import WebSettings

    empty = tmp_path / "node_modules"
    empty.mkdir()
    settings = WebSettings(
        enabled=True,
        window=WINDOW,
        every=8,
        top_k=3,
        app_dir=str(_app(tmp_path)),
        node_modules=str(empty),
    )
    with caplog.at_level(logging.WARNING, logger="islr.export.web_bundle"):
        result = export_web(
            tmp_path / "export",
            models["model"],
            {f"s{i}": i for i in range(NUM_CLASSES)},
            settings,
            output="logits",
            videos=parity_inputs(24),
            keras_fn=lambda f: _keras(models["model"], f),
            tolerance=1e-4,
        )
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "\n" not in warnings[0], warnings
    assert "npm ci --prefix web" in warnings[0] and "make install" in warnings[0]
    assert result.status.startswith("skipped (npm packages missing in"), result.status
    assert result.files == [] and result.parity == []
    assert not (tmp_path / "export" / "web").exists()


def _export(run: Path, out: Path, **web_changes):
    """``export_models`` with the shipped settings, fp32 only, and ``web_changes``."""
    import dataclasses

    from islr.export import ExportSettings, export_models

    shipped = ExportSettings.shipped()
    settings = dataclasses.replace(
        shipped,
        variants=("fp32",),
        submission_variant="fp32",
        latency_runs=1,
        web=dataclasses.replace(shipped.web, window=WINDOW, **web_changes),
    )
    return export_models([run], out, settings, max_len=None, sign_map=None)


@needs_npm
def test_export_writes_the_web_app_from_the_repository(models, tmp_path) -> None:
    from islr.export.web_bundle import default_web_root

    report = _export(models["run"], tmp_path / "export")
    web = tmp_path / "export" / "web"
    app = default_web_root() / "app"
    for source in (p for p in app.rglob("*") if p.is_file() and not p.name.startswith(".")):
        target = web / source.relative_to(app)
        assert target.read_bytes() == source.read_bytes(), target
    assert json.loads((web / "model.json").read_text())["window"] == WINDOW
    saved = json.loads((tmp_path / "export" / "report.json").read_text())
    assert saved["web"].startswith("written") and report.web == saved["web"]
    rows = [r for r in saved["parity"] if r["variant"] == "web"]
    assert rows and all(r["max_abs_diff"] <= r["tolerance"] for r in rows)
    entry = next(f for f in saved["files"] if f["file"] == "web/model.tflite")
    assert entry["median_latency_ms"] > 0 and entry["argmax_agreement"]
    assert "`web/model.tflite`" in (tmp_path / "export" / "report.md").read_text()
    assert not list(tmp_path.glob(".export.partial-*"))  # staged, then moved into place


def test_export_without_npm_packages_still_exports(models, tmp_path) -> None:
    empty = tmp_path / "node_modules"
    empty.mkdir()
    report = _export(models["run"], tmp_path / "export", node_modules=str(empty))
    out = tmp_path / "export"
    assert not (out / "web").exists()
    assert (out / "model_fp32.tflite").is_file() and (out / "submission.zip").is_file()
    assert report.web.startswith("skipped (npm packages missing in ")
    assert f"web: {report.web}" in (out / "report.md").read_text()


@needs_npm
def test_bundle_export_adds_the_app_to_an_export_without_it(models, tmp_path) -> None:
    import dataclasses

    from islr.export import ExportSettings
    from islr.export.web_bundle import bundle_export
    from islr.export.web_model import WebModelRunner

    empty = tmp_path / "node_modules"
    empty.mkdir()
    out = tmp_path / "export"
    _export(models["run"], out, node_modules=str(empty))
    assert not (out / "web").exists()
    web_settings = dataclasses.replace(ExportSettings.shipped().web, window=WINDOW)
    calibration = {"temperature": 0.8, "threshold": 0.62, "coverage": 0.7}
    (out / "calibration.json").write_text(json.dumps(calibration))  # as the run wrote it
    result = bundle_export(out, web_settings, tolerance=1e-4)
    assert result.status.startswith("written"), result.status
    assert (out / "web" / "index.html").is_file()
    info = json.loads((out / "web" / "model.json").read_text())
    assert info["calibration"] == {"temperature": 0.8, "threshold": 0.62}
    assert not list(out.glob(".web.partial*"))
    video = _frames(np.random.default_rng(4), 11)
    np.testing.assert_allclose(
        WebModelRunner(out / "web" / "model.tflite")(video), models["web"](video), atol=1e-5
    )
    with pytest.raises(FileNotFoundError, match=r"model\.keras"):
        bundle_export(tmp_path / "nothing_here", web_settings, tolerance=1e-4)
