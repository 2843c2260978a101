"""Browser app benchmark: the page (Holistic JS + LiteRT.js in headless Chromium) vs Python.

Prints, from one run over the same real clips (``../shared/data/videos``, or --videos), every
clip end to end in the page and through ``islr-extract``'s Holistic:
  - per-frame Holistic time (ms): the page's ``send()`` per frame vs islr-extract's seconds
    per frame (decode included), and their ratio;
  - per-window model time (ms): the page's LiteRT.js run in its worker vs Python's LiteRT
    interpreter on the same web model and windows (one thread each), and their ratio;
  - how well the page's landmarks agree with islr-extract's (parts detected in the same
    frames; median |dx|, |dy| over points both detected) and how often their top-1 agree.

The model is the bundle of --export (an islr export with ``web/``), else a random-weight
network of ``conf/model/reference.yaml`` exported here. Needs Chromium, playwright, the npm
packages (``make install``) and the extraction environment; skipped without ../shared.

Usage: python bench/bench_web.py [--videos DIR] [--export DIR] [--clips 0] [--max-frames 0]
"""

from __future__ import annotations

import argparse
import base64
import shutil
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import numpy as np

VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"]
PARTS = {"face": (0, 468), "left_hand": (468, 489), "pose": (489, 522), "right_hand": (522, 543)}


def make_export(out: Path) -> Path:
    """A random-weight reference-size network exported with its web bundle into ``out``."""
    import json

    import hydra
    import keras

    from islr.config import group_config, network_config
    from islr.export.inference import build_inference_model
    from islr.export.web_bundle import bundle_export
    from islr.export.web_settings import WebSettings

    keras.utils.set_random_seed(0)
    net = hydra.utils.instantiate(
        network_config(group_config("model", "reference")), max_len=384, num_classes=250,
        late_dropout_start_step=0,
    )  # fmt: skip
    out.mkdir(parents=True)
    build_inference_model([net], max_len=None, output="logits").save(out / "model.keras")
    signs = json.loads((VIDEOS.parent / "sign_to_prediction_index_map.json").read_text())
    (out / "sign_to_prediction_index_map.json").write_text(json.dumps(signs))
    settings = WebSettings.from_config(group_config("export", "default").web)
    print("bundle:", bundle_export(out, settings, tolerance=1e-4).status, flush=True)
    return out


def run_page(browser, url: str) -> dict:
    context = browser.new_context()
    page = context.new_page()
    page.goto(url)
    page.wait_for_function(
        "window.islr && ['done', 'error'].includes(islr.status)", timeout=1_200_000, polling=500
    )
    out = page.evaluate(
        "({status: islr.status, error: islr.error, config: islr.config,"
        " timings: islr.timings, predictions: islr.predictions.map(p => ({...p})),"
        " results: islr.results.map(f => btoa(String.fromCharCode(...new Uint8Array(f.buffer))))})"
    )
    context.close()
    out["landmarks"] = np.stack(
        [np.frombuffer(base64.b64decode(r), dtype="<f4") for r in out.pop("results")]
    ).reshape(-1, 543, 3) if out["status"] == "done" else None  # fmt: skip
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=Path, default=VIDEOS)
    ap.add_argument("--export", type=Path, help="an islr export with web/ (default: build one)")
    ap.add_argument("--clips", type=int, default=0, help="first N clips only (0: all)")
    ap.add_argument("--max-frames", type=int, default=0, help="frames per clip (0: all)")
    args = ap.parse_args()
    if not args.videos.is_dir():
        print(f"skipped: {args.videos} is absent (real clips ship beside the repo in CI)")
        return 0
    from playwright.sync_api import sync_playwright

    from islr.data.video import HolisticProcess, HolisticSettings
    from islr.export.predict import to_probabilities
    from islr.export.web_model import WebModelRunner
    from islr.web_server import WebServer

    tmp = Path(tempfile.mkdtemp(prefix="islr-bench-web-"))
    export = args.export or make_export(tmp / "export")
    clips = sorted(args.videos.rglob("*.mp4"))[: args.clips or None]
    settings = HolisticSettings(max_frames=args.max_frames or None)
    runner = WebModelRunner(export / "web" / "model.tflite", num_threads=1)
    rows, py_ms, js_ms, py_model, js_model, agree, top1, dxy = [], [], [], [], [], [], [], []
    with (
        HolisticProcess(settings) as proc,
        WebServer(export / "web", port=0, mounts={"media": args.videos}) as server,
        sync_playwright() as p,
    ):
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        for clip in clips:
            ref = proc.extract(clip)
            media = quote(clip.relative_to(args.videos).as_posix())
            url = f"{server.url}?video={server.url}media/{media}"
            if args.max_frames:
                url += f"&frames={args.max_frames}"
            page = run_page(browser, url)
            if not ref.ok or page["status"] != "done":
                print(f"{clip.name}: python: {ref.error or 'ok'}; page: {page['error'] or 'ok'}")
                continue
            frames, marks = ref.frames, page["landmarks"]
            n = min(len(frames), len(marks))
            holistic = [t["holisticMs"] for t in page["timings"][1:]]  # first: warm-up
            js_ms += holistic
            py_ms.append(1000 * ref.seconds / len(frames))
            for part, (lo, hi) in PARTS.items():
                a = ~np.isnan(marks[:n, lo:hi, 0]).all(1)
                b = ~np.isnan(frames[:n, lo:hi, 0]).all(1)
                agree.append((part, float((a == b).mean())))
                both = a & b
                if both.any():
                    d = np.abs(marks[:n][both, lo:hi, :2] - frames[:n][both, lo:hi, :2])
                    dxy.append((part, *np.median(d.reshape(-1, 2), axis=0)))
            window = page["config"]["window"]
            for pred in page["predictions"]:
                if not pred["top"]:
                    continue
                js_model.append(pred["ms"])
                clip_frames = frames[max(0, pred["frame"] + 1 - window) : pred["frame"] + 1]
                t0 = time.perf_counter()
                scores = runner(clip_frames)
                py_model.append(1000 * (time.perf_counter() - t0))
                probs = to_probabilities(scores)
                top1.append(int(np.argmax(probs)) == pred["top"][0][1])
                if not top1[-1]:
                    best, second = np.sort(probs)[::-1][:2]
                    print(f"  {clip.name} frame {pred['frame']}: top-1 differs; Python's two "
                          f"best probabilities {best:.4f} / {second:.4f}")  # fmt: skip
            rows.append((clip.name, n, np.median(holistic), py_ms[-1]))
            print(f"{clip.name}: {n} frames, page {rows[-1][2]:.0f} ms/frame, "
                  f"islr-extract {py_ms[-1]:.0f} ms/frame", flush=True)  # fmt: skip
        browser.close()
    if not rows:
        print("no clip ran")
        return 1
    js, py = float(np.median(js_ms)), float(np.median(py_ms))
    jm, pm = float(np.median(js_model)), float(np.median(py_model))
    print(f"\n{len(rows)} clips, {sum(r[1] for r in rows)} frames")
    print(f"Holistic per frame: page {js:.0f} ms, Python {py:.0f} ms, ratio {js / py:.2f}x")
    print(f"model per window:   page {jm:.1f} ms, Python {pm:.1f} ms, ratio {jm / pm:.2f}x")
    for part in PARTS:
        a = [v for k, v in agree if k == part]
        d = np.array([v[1:] for v in dxy if v[0] == part])
        med = (
            f"median |dx| {np.median(d[:, 0]):.5f} |dy| {np.median(d[:, 1]):.5f}" if len(d) else ""
        )
        print(f"  {part}: same detection in {100 * np.mean(a):.1f} % of frames; {med}")
    print(f"top-1 page (own landmarks) = Python (islr-extract's): {100 * np.mean(top1):.1f} % "
          f"of {len(top1)} windows")  # fmt: skip
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
