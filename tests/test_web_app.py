"""The browser app of an export (``<export>/web/``) in real headless Chromium, real libraries.

A tiny random-weight network is exported with the shipped ``export.web`` settings, its bundle
served by ``islr-serve-web``'s server (the real clips mounted at ``/media/``) and driven
through the page's ``window.islr`` hook (see ``web/app/app.js``).

Choice of clips (CPU time): Holistic JS takes ~250-850 ms per 1080p frame on a busy 2-core
machine, so running all 17 decodable clips end to end (~1,300 frames) does not fit make
test. Here the landmarks of one whole clip (hello, 54 frames) and the first 16 frames of a
second (thankyou) are compared with ``islr-extract``'s, and their page predictions with
``islr-predict``'s on the same windows; the model path of the page (worker, LiteRT.js,
window and top-k code) is compared with Python for EVERY clip on ``islr-extract``'s landmarks
of its first 16 frames, and on real Kaggle landmark files longer than the window.
``bench/bench_web.py`` runs all clips end to end.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import keras
import numpy as np
import pytest

pytestmark = [
    pytest.mark.skipif(
        keras.backend.backend() != "tensorflow", reason="export needs the TensorFlow backend"
    ),
    pytest.mark.xdist_group("web"),
]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
E2E_CLIPS = {"hello": None, "thankyou": 16}  # sign -> frames the page processes (None: all)
MODEL_PATH_FRAMES = 16  # frames of every clip whose extracted landmarks feed the model path
PARTS = {"face": (0, 468), "left_hand": (468, 489), "pose": (489, 522), "right_hand": (522, 543)}
NEAR_TIE = 1e-4  # top-1 may differ only where Python's two best probabilities are this close


def _clip(videos: Path, sign: str) -> Path:
    return next((videos / sign).glob("*.mp4"))


def _media_url(server_url: str, videos: Path, clip: Path) -> str:
    from urllib.parse import quote

    return server_url + "media/" + quote(clip.relative_to(videos).as_posix())


# --- fixtures -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def web_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An export of a random-weight network (``model.keras``, sign map) with its ``web/``."""
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no Chromium at {CHROMIUM}: the browser tests need Debian's chromium")
    from islr.config import group_config
    from islr.export.inference import build_inference_model
    from islr.export.web_bundle import WebSourcesMissing, bundle_export, find_web_sources
    from islr.export.web_settings import WebSettings
    from islr.model import load_network_file

    settings = WebSettings.from_config(group_config("export", "default").web)
    try:
        find_web_sources(settings.app_dir, settings.node_modules)
    except WebSourcesMissing as why:
        pytest.skip(f"browser app not buildable here: {why}")
    sys.path.insert(0, str(Path(__file__).parent))
    from test_export import make_run_dir

    root = tmp_path_factory.mktemp("web_app")
    run = make_run_dir(root, 0)
    export = root / "export"
    export.mkdir()
    net = load_network_file(run / "checkpoints" / "best.keras")
    build_inference_model([net], max_len=None, output="logits").save(export / "model.keras")
    shutil.copy(run / "sign_to_prediction_index_map.json", export)
    status = bundle_export(export, settings, tolerance=1e-4).status
    assert status.startswith("written"), status
    return export


@pytest.fixture(scope="module")
def server(web_export: Path, real_videos_dir: Path):
    from islr.web_server import WebServer

    with WebServer(web_export / "web", port=0, mounts={"media": real_videos_dir}) as srv:
        yield srv


@pytest.fixture(scope="module")
def fake_camera_clip(real_videos_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """hello_1.mp4 as a 640x360 y4m for Chromium's fake camera (made with OpenCV, not kept)."""
    from islr.data.video import ensure_python

    out = tmp_path_factory.mktemp("camera") / "hello.y4m"
    script = (
        "import sys, cv2\n"
        "cap = cv2.VideoCapture(sys.argv[1]); out = open(sys.argv[2], 'wb')\n"
        "out.write(b'YUV4MPEG2 W640 H360 F30:1 Ip A1:1 C420jpeg\\n')\n"
        "while True:\n"
        "    ok, bgr = cap.read()\n"
        "    if not ok: break\n"
        "    yuv = cv2.cvtColor(cv2.resize(bgr, (640, 360)), cv2.COLOR_BGR2YUV_I420)\n"
        "    out.write(b'FRAME\\n' + yuv.tobytes())\n"
    )
    clip = _clip(real_videos_dir, "hello")
    subprocess.run([str(ensure_python()), "-c", script, str(clip), str(out)], check=True)
    assert out.stat().st_size > 640 * 360 * 1.5 * 30
    return out


@pytest.fixture(scope="module")
def playwright(web_export):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright, fake_camera_clip: Path, server):
    """One Chromium for the module (a fresh temporary profile), its fake camera on a real clip."""
    args = [
        *CHROMIUM_ARGS,
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={fake_camera_clip}",
    ]
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
    yield chromium
    chromium.close()


class AppPage:
    """A page of the app in its own browser context, recording every request it makes."""

    def __init__(self, browser, url: str, permissions: list[str] | None = None) -> None:
        self.context = browser.new_context(
            permissions=permissions or [], viewport={"width": 1100, "height": 640}
        )
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(url)

    def wait(self, condition: str, timeout_s: float) -> None:
        self.page.wait_for_function(condition, timeout=timeout_s * 1000, polling=250)

    def wait_ready(self) -> dict:
        self.wait("window.islr && islr.status !== 'loading'", 120)
        return self.state()

    def wait_finished(self, timeout_s: float) -> dict:
        self.wait("window.islr && ['done', 'error'].includes(islr.status)", timeout_s)
        return self.state()

    def state(self) -> dict:
        return self.page.evaluate(
            "({status: islr.status, error: islr.error, code: islr.errorCode,"
            " shown: document.getElementById('status').dataset.code,"
            " message: document.getElementById('message').textContent})"
        )

    def landmarks(self) -> np.ndarray:
        values = self.page.evaluate("islr.results.map(f => Array.from(f))")
        return np.array(values, dtype=np.float32).reshape(len(values), 543, 3)

    def assert_local(self, origin: str) -> None:
        outside = [u for u in self.requests if not u.startswith((origin, "blob:", "data:"))]
        assert not outside, f"requests outside {origin}: {outside[:5]}"

    def close(self) -> None:
        self.context.close()


def _extract_reference(videos: Path) -> tuple[dict, dict]:
    """islr-extract's landmarks: whole e2e clips (by sign), the first frames of every clip."""
    from islr.data.video import HolisticProcess, HolisticSettings

    clips = sorted(videos.rglob("*.mp4"))
    with HolisticProcess(HolisticSettings(max_frames=MODEL_PATH_FRAMES)) as proc:
        first = {clip: proc.extract(clip) for clip in clips}
    whole = {sign: first[_clip(videos, sign)] for sign, n in E2E_CLIPS.items() if n}
    with HolisticProcess() as proc:
        whole |= {s: proc.extract(_clip(videos, s)) for s, n in E2E_CLIPS.items() if not n}
    return whole, first


@pytest.fixture(scope="module")
def python_extraction(real_videos_dir: Path):
    """The Python extraction, started in the background while the browser runs (its Holistic
    runs in the extraction environment's process, the page's in Chromium's)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        yield pool.submit(_extract_reference, real_videos_dir)


@pytest.fixture(scope="module")
def python_reference(web_export: Path, python_extraction):
    """(whole e2e clips, first frames of every clip, predictor, sign names) from Python."""
    from islr.export.predict import load_predictor, sign_names

    whole, first = python_extraction.result(timeout=600)
    predictor = load_predictor(web_export)
    return whole, first, predictor, sign_names(predictor)


@pytest.fixture(scope="module")
def e2e_pages(python_extraction, browser, server, real_videos_dir: Path):
    """The app run on each e2e clip: {sign: (AppPage, final state, seconds)}."""
    pages = {}
    for sign, frames in E2E_CLIPS.items():
        clip = _clip(real_videos_dir, sign)
        url = f"{server.url}?video={_media_url(server.url, real_videos_dir, clip)}"
        if frames:
            url += f"&frames={frames}"
        started = time.perf_counter()
        app = AppPage(browser, url)
        state = app.wait_finished(300)
        pages[sign] = (app, state, time.perf_counter() - started)
    yield pages
    for app, _, _ in pages.values():
        app.close()


# --- helpers comparing with Python ----------------------------------------------------------
def _stream_reference(predictor, frames: np.ndarray, names, window: int, every: int, top_k: int):
    """islr-predict --stream's predictions (src/islr/export/stream.py) on given landmarks, plus
    the page's final prediction over the clip's last ``window`` frames."""
    from islr.export.predict import to_probabilities
    from islr.landmarks import LHAND, RHAND

    hands = np.array(LHAND + RHAND)
    ends = [f for f in range(len(frames)) if (f + 1) % every == 0]
    if not ends or ends[-1] != len(frames) - 1:
        ends.append(len(frames) - 1)
    out = {}
    for end in ends:
        clip = frames[max(0, end + 1 - window) : end + 1]
        if np.isnan(clip[:, hands]).all():
            out[end] = (len(clip), None)
            continue
        out[end] = (len(clip), to_probabilities(predictor(clip)))
    return out


def _compare_predictions(
    page_predictions: list[dict], reference: dict, names, where: str, prob_tol: float | None
) -> int:
    """Top-1 of every page prediction equals Python's (near-ties allowed), its probability
    within ``prob_tol`` (None: not compared); returns the near-ties seen."""
    assert [p["frame"] for p in page_predictions] == sorted(reference), where
    ties = 0
    for pred in page_predictions:
        length, probs = reference[pred["frame"]]
        assert pred["window"] == length, f"{where} frame {pred['frame']}"
        if probs is None:
            assert pred["top"] == [], f"{where} frame {pred['frame']}: no hand, yet a sign"
            continue
        assert pred["top"], f"{where} frame {pred['frame']}: hands seen, yet no sign"
        best, second = np.sort(probs)[::-1][:2]
        sign, index, prob = pred["top"][0]
        if best - second < NEAR_TIE:
            ties += 1
            assert probs[index] >= second - NEAR_TIE, f"{where} frame {pred['frame']}"
            continue
        assert names[int(np.argmax(probs))] == sign, f"{where} frame {pred['frame']}"
        if prob_tol is not None:
            assert abs(prob - best) < prob_tol, f"{where} frame {pred['frame']}: {prob} vs {best}"
    return ties


# --- tests ----------------------------------------------------------------------------------
def test_page_landmarks_match_islr_extract(e2e_pages, python_reference) -> None:
    """Same frames, same parts detected in >= 95 % of them, median |dx|, |dy| <= 0.01 per part."""
    whole, _, _, _ = python_reference
    for sign, (app, state, seconds) in e2e_pages.items():
        assert state["status"] == "done", state
        page = app.landmarks()
        ref = whole[sign].frames
        count = E2E_CLIPS[sign] or len(ref)
        assert len(page) == count, f"{sign}: page {len(page)} frames, islr-extract {len(ref)}"
        ref = ref[:count]
        for part, (lo, hi) in PARTS.items():
            seen_page = ~np.isnan(page[:, lo:hi, 0]).all(axis=1)
            seen_ref = ~np.isnan(ref[:, lo:hi, 0]).all(axis=1)
            agreement = float((seen_page == seen_ref).mean())
            both = seen_page & seen_ref
            dx = np.abs(page[both, lo:hi, 0] - ref[both, lo:hi, 0])
            dy = np.abs(page[both, lo:hi, 1] - ref[both, lo:hi, 1])
            median = (float(np.median(dx)), float(np.median(dy))) if both.any() else (0.0, 0.0)
            print(
                f"{sign} {part}: detected page {seen_page.sum()} / extract {seen_ref.sum()} "
                f"of {count}, agreement {agreement:.1%}, median |dx| {median[0]:.5f} "
                f"|dy| {median[1]:.5f}"
            )
            assert agreement >= 0.95, f"{sign} {part}: detection agrees in {agreement:.1%}"
            assert max(median) <= 0.01, f"{sign} {part}: median |dx|,|dy| = {median}"
        print(f"{sign}: {count} frames in {seconds:.1f} s (page load included)")
        app.assert_local(app.page.url.split("?")[0])


def test_page_predictions_match_islr_predict(e2e_pages, python_reference) -> None:
    """The page's predictions over its own landmarks = islr-predict's over islr-extract's."""
    whole, _, predictor, names = python_reference
    ties = 0
    for sign, (app, _, _) in e2e_pages.items():
        config = app.page.evaluate("islr.config")
        predictions = app.page.evaluate("islr.predictions")
        count = E2E_CLIPS[sign] or len(whole[sign].frames)
        ref = _stream_reference(
            predictor,
            whole[sign].frames[:count],
            names,
            config["window"],
            config["every"],
            config["top_k"],
        )
        ties += _compare_predictions(predictions, ref, names, sign, None)
        assert predictions[-1]["final"]
    print(f"near-ties allowed: {ties}")


def test_model_path_matches_python_on_every_clip(e2e_pages, python_reference) -> None:
    """islr-extract's landmarks of every clip through the page's worker and window code."""
    from conftest import REAL_SAMPLE
    from islr.data.reader import read_landmark_file

    _, first, predictor, names = python_reference
    app = e2e_pages["hello"][0]
    config = app.page.evaluate("islr.config")
    inputs = {clip.name: c.frames for clip, c in first.items() if c.ok}
    broken = [clip.name for clip, c in first.items() if not c.ok]
    assert broken == ["face_1.mp4"], broken
    if REAL_SAMPLE.exists():  # real Kaggle landmarks longer than the window: a sliding window
        long = sorted(REAL_SAMPLE.rglob("*.parquet"), key=lambda p: -p.stat().st_size)[:2]
        inputs |= {p.name: read_landmark_file(p) for p in long}
    ties = 0
    for name, frames in inputs.items():
        packed = base64.b64encode(np.ascontiguousarray(frames, dtype="<f4").tobytes()).decode()
        predictions = app.page.evaluate(
            "([b64, n]) => islr.predictFrames("
            "new Float32Array(Uint8Array.from(atob(b64), c => c.charCodeAt(0)).buffer), n)",
            [packed, len(frames)],
        )
        ref = _stream_reference(
            predictor, frames, names, config["window"], config["every"], config["top_k"]
        )
        ties += _compare_predictions(predictions, ref, names, name, 1e-4)
    print(f"{len(inputs)} landmark sequences, near-ties allowed: {ties}")


def test_page_spots_the_signs_of_its_own_landmarks(e2e_pages, python_reference) -> None:
    """The live path's spotting (video -> Holistic -> activity.js -> the model) = spot_signs on
    the landmarks the page found (tests/test_web_spotting.py: long stitched streams)."""
    from islr.export.spot import spot_signs

    _, _, predictor, names = python_reference
    for sign, (app, _, _) in e2e_pages.items():
        found = app.page.evaluate("islr.segments")
        python = spot_signs(app.landmarks(), predictor, names, include_rejected=True)
        assert [(s["start_frame"], s["end_frame"], s["sign"]) for s in found] == [
            (s.start_frame, s.end_frame, s.sign) for s in python
        ], sign
        assert [s["confidence"] for s in found] == pytest.approx(
            [s.confidence for s in python], abs=1e-4
        ), sign
        times = app.page.evaluate("islr.frameTimes")
        assert [s["start_time"] for s in found] == [times[s.start_frame] for s in python], sign
        assert app.page.locator("#segments li").count() == len(found), sign
        print(f"{sign}: {len(found)} segment(s) spotted: {found}")


def test_screenshot_shows_landmarks_and_a_prediction(e2e_pages, tmp_path: Path) -> None:
    from PIL import Image

    app = e2e_pages["hello"][0]
    shot = tmp_path / "web-app.png"
    app.page.screenshot(path=str(shot))
    print(f"screenshot: {shot}")
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    pose = (np.abs(pixels - [0xFF, 0xB0, 0x00]).sum(axis=-1) < 40).sum()
    hand = (np.abs(pixels - [0x00, 0xC8, 0xFF]).sum(axis=-1) < 40).sum()
    assert pose > 200, f"only {pose} pose-coloured pixels"
    sign = app.page.inner_text("#sign")
    top = app.page.locator("#top li").count()
    assert sign and top == app.page.evaluate("islr.config.top_k"), (sign, top)
    print(f"pose pixels {pose}, hand pixels {hand}, sign shown: {sign}")


def test_fake_camera_yields_predictions(browser, server) -> None:
    app = AppPage(browser, f"{server.url}?camera=1", permissions=["camera"])
    try:
        app.wait("window.islr && islr.predictions.some(p => p.top.length > 0)", 180)
        state = app.state()
        assert state["status"] == "running", state
        timing = app.page.evaluate("islr.timings.at(-1)")
        assert timing["holisticMs"] > 0
        app.page.evaluate("islr.stop()")  # returns once the camera loop has ended
        assert app.state()["status"] == "ready"
        app.assert_local(server.url)
    finally:
        app.close()


def test_camera_permission_denied_is_explained(browser, server) -> None:
    app = AppPage(browser, server.url)  # no camera permission granted
    try:
        app.wait_ready()
        result = app.page.evaluate("islr.startCamera()")
        state = app.state()
        assert result["code"] == state["code"] == state["shown"] == "camera-denied", state
        assert "permission" in state["message"]
    finally:
        app.close()


def test_broken_video_gives_a_readable_error_not_a_hang(browser, server, real_videos_dir) -> None:
    clip = real_videos_dir / "face" / "face_1.mp4"
    started = time.perf_counter()
    app = AppPage(browser, f"{server.url}?video={_media_url(server.url, real_videos_dir, clip)}")
    try:
        state = app.wait_finished(90)
        assert state["status"] == "error" and state["code"] == "decode-failed", state
        assert "face_1.mp4" in state["message"] and "cannot decode" in state["message"]
        print(f"broken clip reported in {time.perf_counter() - started:.1f} s: {state['message']}")
        app.assert_local(server.url)
    finally:
        app.close()


def test_model_that_fails_to_load_is_explained(browser, web_export: Path, tmp_path: Path) -> None:
    from islr.web_server import WebServer

    copy = tmp_path / "web"
    shutil.copytree(web_export / "web", copy, copy_function=os.link)
    (copy / "model.tflite").unlink()
    (copy / "model.tflite").write_bytes(b"this is not a flatbuffer" * 100)
    with WebServer(copy, port=0) as srv:
        app = AppPage(browser, srv.url)
        try:
            state = app.wait_ready()
            assert state["status"] == "error" and state["code"] == "model-failed", state
            assert "model.tflite" in state["message"]
            assert app.page.is_disabled("#camera")
        finally:
            app.close()


def test_no_camera_is_explained(playwright, server) -> None:
    """A browser without a camera (no fake device): the page says so."""
    chromium = playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
    )
    try:
        app = AppPage(chromium, server.url, permissions=["camera"])
        app.wait_ready()
        result = app.page.evaluate("islr.startCamera()")
        state = app.state()
        assert result["code"] == state["code"] == "no-camera", state
        assert "No camera" in state["message"]
        app.assert_local(server.url)
    finally:
        chromium.close()
