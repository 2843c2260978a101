"""Sign spotting in the browser app, in real headless Chromium: the page's activity rule
(``web/app/activity.js``) and spotting (``web/app/spotting.js``) against Python's.

The page gets its numbers from the export's ``model.json`` (written from ``conf/spot``); the
streams are real Kaggle clips stitched with real rest frames (``islr.export.spot_eval``, as
``bench/bench_spotting.py`` builds them), one of them with a signing segment longer than the
classifier's window. The model is ``test_web_app``'s random-weight export, run by LiteRT.js in
the page and by ``load_predictor`` in Python.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import keras
import numpy as np
import pytest

from test_web_app import CHROMIUM, CHROMIUM_ARGS, AppPage, playwright, web_export  # noqa: F401

pytestmark = [
    pytest.mark.skipif(
        keras.backend.backend() != "tensorflow", reason="export needs the TensorFlow backend"
    ),
    pytest.mark.xdist_group("web"),
]

PROB_TOL = 1e-4
# Kaggle clips (participant, sign, path) stitched into the streams, by stream
STREAM_CLIPS = {
    "34503": (
        ("hello", "train_landmark_files/34503/480100968.parquet"),
        ("thankyou", "train_landmark_files/34503/2470333990.parquet"),
        ("hello", "train_landmark_files/34503/757253171.parquet"),
    ),
}


def _stitched_streams(sample: Path) -> dict[str, tuple[np.ndarray, list]]:
    """{name: (frames, true segments)}: one signer's clips (one signed three times in a row,
    longer than the window), and the sample's longest clips of hello/thankyou."""
    from islr.data import read_landmark_file, read_train_csv
    from islr.export.spot_eval import rest_frames, stitch_stream

    rng = np.random.default_rng(0)
    streams = {}
    for name, clips in STREAM_CLIPS.items():
        loaded = [(sign, read_landmark_file(sample / rel)) for sign, rel in clips]
        # signed three times without a pause: one segment longer than the window
        loaded.append((loaded[1][0], np.concatenate([loaded[1][1]] * 3)))
        recording = np.concatenate([f for _, f in loaded])
        rests = [rest_frames(recording, n, offset=7 * n) for n in (30, 25, 40, 35, 20)]
        frames, truth, _ = stitch_stream(loaded, rests)
        streams[name] = (frames, truth)
    df = read_train_csv(sample)
    df = df[df.sign.isin(["hello", "thankyou"])]
    picked = [(s, read_landmark_file(sample / p)) for s, p in zip(df.sign, df.path, strict=True)]
    picked = sorted(picked, key=lambda c: -len(c[1]))[:4]
    recording = np.concatenate([f for _, f in picked])
    rests = [
        rest_frames(recording, int(rng.integers(15, 50)), int(rng.integers(len(recording))))
        for _ in range(len(picked) + 1)
    ]
    frames, truth, _ = stitch_stream(picked, rests)
    streams["longest clips"] = (frames, truth)
    return streams


@pytest.fixture(scope="module")
def streams(real_sample_root: Path):
    return _stitched_streams(real_sample_root)


@pytest.fixture(scope="module")
def page(web_export: Path, playwright):  # noqa: F811
    """The export's page (no camera, no video), loaded and ready."""
    from islr.web_server import WebServer

    chromium = playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
    )
    with WebServer(web_export / "web", port=0) as server:
        app = AppPage(chromium, server.url)
        try:
            state = app.wait_ready()
            assert state["status"] == "ready", state
            yield app
        finally:
            app.close()
            chromium.close()


def _spot_on_page(app: AppPage, frames: np.ndarray) -> dict:
    packed = base64.b64encode(np.ascontiguousarray(frames, dtype="<f4").tobytes()).decode()
    return app.page.evaluate(
        "([b64, n]) => islr.spotFrames("
        "new Float32Array(Uint8Array.from(atob(b64), c => c.charCodeAt(0)).buffer), n)",
        [packed, len(frames)],
    )


def test_model_json_carries_conf_spot(web_export: Path) -> None:  # noqa: F811
    from islr.export.spot import SpotSettings

    info = json.loads((web_export / "web" / "model.json").read_text())
    assert info["spot"] == SpotSettings.shipped().as_dict()
    assert info["calibration"] is None  # the test export has no calibration.json


def test_page_activity_segments_equal_pythons(page: AppPage, streams) -> None:
    from islr.export.activity import ActivityRule, active_segments

    rule = ActivityRule(**page.page.evaluate("islr.config.spot.activity"))
    assert rule == ActivityRule.shipped()
    for name, (frames, truth) in streams.items():
        python = active_segments(frames, rule)
        found = _spot_on_page(page, frames)["activity"]
        assert [tuple(s) for s in found] == python, name
        print(f"{name}: {len(frames)} frames, {len(python)} activity segments, {len(truth)} clips")


@pytest.mark.parametrize("threshold", ["model.json", 0.0])
def test_page_spots_the_segments_spot_signs_finds(
    page: AppPage,
    streams,
    web_export: Path,  # noqa: F811
    threshold,
) -> None:
    """Same segments, signs and no-sign decisions; probabilities within 1e-4."""
    from islr.export.predict import load_predictor, sign_names
    from islr.export.spot import SpotSettings, spot_signs

    predictor = load_predictor(web_export)
    names = sign_names(predictor)
    settings = SpotSettings.shipped()
    original = page.page.evaluate("islr.threshold")
    if threshold == "model.json":
        assert original == settings.threshold(predictor)
    else:
        settings = SpotSettings.shipped(min_confidence=threshold)
        page.page.evaluate(f"islr.threshold = {threshold}")
    try:
        for name, (frames, _) in streams.items():
            python = spot_signs(frames, predictor, names, settings=settings, include_rejected=True)
            result = _spot_on_page(page, frames)
            found = result["segments"]
            where = f"{name}, threshold {threshold}"
            assert [(s["start_frame"], s["end_frame"], s["sign"]) for s in found] == [
                (s.start_frame, s.end_frame, s.sign) for s in python
            ], where
            assert [s["confidence"] for s in found] == pytest.approx(
                [s.confidence for s in python], abs=PROB_TOL
            ), where
            assert page.page.locator("#segments li").count() == len(python), where
            no_sign = sum(s.sign is None for s in python)
            assert page.page.locator("#segments li.no-sign").count() == no_sign, where
            long = sum(e - s + 1 > settings.window for s, e in result["activity"])
            print(f"{where}: {len(python)} segments ({no_sign} no sign), {long} > the window")
    finally:
        page.page.evaluate(f"islr.threshold = {original}")
