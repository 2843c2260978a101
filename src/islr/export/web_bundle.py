"""The browser app of an export: ``<export>/web/``, a static site that runs the model offline.

It holds the app (every file of the repository's ``web/app/``), the fixed-window web model
(:mod:`islr.export.web_model`) with ``model.json`` describing it, the sign map, and the runtime
files of the pinned npm packages (``web/package.json``) under ``vendor/``: nothing is fetched
from the network when the page runs. Without ``web/node_modules`` (no node/npm, or
``npm ci`` not run) the bundle is skipped with one warning and the rest of the export is
unaffected.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np

import islr
from islr.data.reader import read_sign_map
from islr.export.inference import inference_max_len, run_keras
from islr.export.job import ExportJob
from islr.export.parity import ParityResult, parity_inputs
from islr.export.report import ExportedFile
from islr.export.spot import SpotSettings
from islr.export.web_model import (
    FRAMES_INPUT,
    LENGTH_DTYPE,
    LENGTH_INPUT,
    SCORES_OUTPUT,
    WebModelRunner,
    build_web_model,
    check_web_parity,
    convert_web_model,
)
from islr.export.web_settings import WebSettings
from islr.landmarks import N_LANDMARKS
from islr.model import load_network_file
from islr.run_layout import SIGN_MAP_FILENAME, ExportLayout
from islr.web_server import WEB_DIR

__all__ = [
    "VENDOR_FILES",
    "WEB_DIR",
    "WebExport",
    "WebSourcesMissing",
    "bundle_export",
    "default_web_root",
    "export_calibration",
    "export_web",
    "find_web_sources",
    "write_web_app",
    "write_web_bundle",
]

log = logging.getLogger(__name__)

WEB_MODEL = "model.tflite"
WEB_MODEL_INFO = "model.json"

VENDOR_FILES: dict[str, tuple[str, dict[str, str]]] = {
    # Holistic's graph, both wasm builds (SIMD and not: holistic.js picks one) and its
    # packed models. Only the pose model of model_complexity 1 is shipped, the setting
    # islr-extract uses (the Kaggle data's); lite and heavy would add 30 MB.
    "holistic": (
        "@mediapipe/holistic",
        {
            name: name
            for name in (
                "holistic.js",
                "holistic.binarypb",
                "holistic_solution_packed_assets.data",
                "holistic_solution_packed_assets_loader.js",
                "holistic_solution_simd_wasm_bin.data",
                "holistic_solution_simd_wasm_bin.js",
                "holistic_solution_simd_wasm_bin.wasm",
                "holistic_solution_wasm_bin.js",
                "holistic_solution_wasm_bin.wasm",
                "pose_landmark_full.tflite",
            )
        },
    ),
    # The ES module and the two single-threaded wasm builds loadLiteRt(<dir>) chooses from
    # (relaxed SIMD or not); the threaded and JSPI builds need options the app does not use.
    "litert": (
        "@litertjs/core",
        {
            "index.js": "dist/index.js",
            "wasm/litert_wasm_internal.js": "wasm/litert_wasm_internal.js",
            "wasm/litert_wasm_internal.wasm": "wasm/litert_wasm_internal.wasm",
            "wasm/litert_wasm_compat_internal.js": "wasm/litert_wasm_compat_internal.js",
            "wasm/litert_wasm_compat_internal.wasm": "wasm/litert_wasm_compat_internal.wasm",
        },
    ),
    # What @litertjs/core imports by its bare name (an import map in index.html points here).
    "wasm-utils": ("@litertjs/wasm-utils", {"index.js": "dist/index.js"}),
}
"""``vendor/<folder>/<file>`` of the bundle -> (npm package, file inside the package)."""


class WebSourcesMissing(Exception):  # noqa: N818 -- a reason to skip, not a failure
    """The app sources or the npm packages are not where the bundle needs them."""


@dataclass
class WebSources:
    """Where the bundle's inputs are: the app folder and the npm ``node_modules``."""

    app_dir: Path
    node_modules: Path


@dataclass
class WebExport:
    """What :func:`export_web` did: its files and parity results, or why it was skipped."""

    status: str
    files: list[ExportedFile] = field(default_factory=list)
    parity: list[ParityResult] = field(default_factory=list)


def default_web_root() -> Path:
    """The repository's ``web/`` folder (beside ``src/``, from a source checkout)."""
    return Path(islr.__file__).resolve().parents[2] / WEB_DIR


def find_web_sources(app_dir: str | Path | None, node_modules: str | Path | None) -> WebSources:
    """Check that the app and every vendor file exist (``None``: the repository's ``web/``).

    Raises:
        WebSourcesMissing: naming what is missing and how to get it.
    """
    app = Path(app_dir) if app_dir is not None else default_web_root() / "app"
    modules = (
        Path(node_modules) if node_modules is not None else default_web_root() / "node_modules"
    )
    if not (app / "index.html").is_file():
        raise WebSourcesMissing(f"no app sources at {app} (index.html missing)")
    how = "run `make install` (needs node and npm) or `npm ci --prefix web`"
    missing = [
        f"{package}/{source}"
        for package, files in VENDOR_FILES.values()
        for source in files.values()
        if not (modules / package / source).is_file()
    ]
    if missing:
        shown = ", ".join(missing[:2]) + (", ..." if len(missing) > 2 else "")
        raise WebSourcesMissing(f"npm packages missing in {modules} ({shown}); {how}")
    pins = _pinned_versions(modules.parent / "package.json")
    for package, _ in VENDOR_FILES.values():
        installed = json.loads((modules / package / "package.json").read_text())["version"]
        if package in pins and pins[package] != installed:
            raise WebSourcesMissing(
                f"{modules / package} is version {installed}, web/package.json pins "
                f"{pins[package]}; {how}"
            )
    return WebSources(app, modules)


def _pinned_versions(package_json: Path) -> dict[str, str]:
    if not package_json.is_file():
        return {}
    return dict(json.loads(package_json.read_text()).get("dependencies", {}))


def export_calibration(export_dir: str | Path) -> dict[str, float] | None:
    """``{"temperature", "threshold"}`` of the export's ``calibration.json`` (``None``: none)."""
    path = ExportLayout(Path(export_dir)).calibration
    if not path.is_file():
        return None
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
        return {k: float(values[k]) for k in ("temperature", "threshold")}
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a calibration file ({exc})") from exc


def model_info(
    window: int,
    every: int,
    top_k: int,
    mapping: Mapping[str, int],
    output: str,
    spot: SpotSettings,
    calibration: Mapping[str, float] | None = None,
) -> dict:
    """``model.json``: what the page needs to feed the web model and read its scores, and to
    spot signs as ``islr-predict --spot`` does.

    Args:
        spot: the spotting settings (``conf/spot/default.yaml``), the activity rule included:
            the page's activity.js reads its numbers from here only.
        calibration: ``{"temperature", "threshold"}`` of the model's ``calibration.json``
            (``None``: uncalibrated; the page then uses temperature 1 and
            ``spot.uncalibrated_min_confidence``).
    """
    signs = [name for name, _ in sorted(mapping.items(), key=lambda item: item[1])]
    if spot.window > window:
        log.warning(
            "spot.window %d > export.web.window %d: the page classifies spotted segments in "
            "windows of %d frames",
            spot.window,
            window,
            window,
        )
    calibrated = None
    if calibration is not None:
        calibrated = {k: float(calibration[k]) for k in ("temperature", "threshold")}
    return {
        "window": window,
        "every": every,
        "top_k": top_k,
        "num_classes": len(signs),
        "inputs": {FRAMES_INPUT: [window, N_LANDMARKS, 3], LENGTH_INPUT: [1]},
        "dtypes": {FRAMES_INPUT: "float32", LENGTH_INPUT: LENGTH_DTYPE},
        "output": SCORES_OUTPUT,
        "scores": output,
        "signs": signs,
        "spot": spot.as_dict(),
        "calibration": calibrated,
        "islr_version": islr.__version__,
    }


def write_web_bundle(
    web_dir: str | Path,
    sources: WebSources,
    web_tflite: bytes,
    info: Mapping,
    mapping: Mapping[str, int],
) -> list[Path]:
    """Write the static site into ``web_dir`` (created; must not exist yet).

    Returns:
        Every file written.
    """
    web_dir = Path(web_dir)
    shutil.copytree(sources.app_dir, web_dir, ignore=shutil.ignore_patterns(".*"))
    for folder, (package, files) in VENDOR_FILES.items():
        for target, source in files.items():
            dest = web_dir / "vendor" / folder / target
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(sources.node_modules / package / source, dest)
    (web_dir / WEB_MODEL).write_bytes(web_tflite)
    (web_dir / WEB_MODEL_INFO).write_text(json.dumps(info, indent=1), encoding="utf-8")
    (web_dir / SIGN_MAP_FILENAME).write_text(json.dumps(dict(mapping), indent=1), encoding="utf-8")
    return sorted(p for p in web_dir.rglob("*") if p.is_file())


def export_web(
    out_dir: str | Path,
    inference_model: keras.Model,
    mapping: Mapping[str, int],
    settings: WebSettings,
    *,
    output: str,
    videos: Mapping[str, np.ndarray],
    keras_fn: Callable[[np.ndarray], np.ndarray],
    tolerance: float,
    spot: SpotSettings | None = None,
    calibration: Mapping[str, float] | None = None,
) -> WebExport:
    """The export's web step: the web model, its parity gate, then ``<out_dir>/web/``.

    The sources are checked first, so a machine without the npm packages skips the bundle
    (one warning, ``status`` says why) without converting anything.

    Args:
        out_dir: the (staged) export directory.
        inference_model: the Kaggle-contract Keras model.
        mapping: the export's sign map.
        settings: ``export.web``.
        output: what the scores are (``logits`` / ``probabilities``), for the page.
        videos: the export's parity videos; the web model must match ``keras_fn`` on
            their last ``window`` frames.
        keras_fn: frames -> reference scores.
        tolerance: the fp32 parity bound.
        spot: the page's spotting settings (default: :meth:`SpotSettings.shipped`).
        calibration: the model's temperature and threshold (see :func:`model_info`).

    Raises:
        ParityError: the web model does not reproduce the inference model (nothing written).
    """
    if not settings.enabled:
        return WebExport("skipped (export.web.enabled is false)")
    try:
        sources = find_web_sources(settings.app_dir, settings.node_modules)
    except WebSourcesMissing as why:
        log.warning("web bundle skipped: %s", why)
        return WebExport(f"skipped ({why})")
    flatbuffer = convert_web_model(build_web_model(inference_model, settings.window))
    parity = check_web_parity(keras_fn, WebModelRunner(flatbuffer), videos, tolerance)
    spot = spot or SpotSettings.shipped()
    info = model_info(
        settings.window, settings.every, settings.top_k, mapping, output, spot, calibration
    )
    web_dir = Path(out_dir) / WEB_DIR
    written = write_web_bundle(web_dir, sources, flatbuffer, info, mapping)
    worst = max(r.max_abs_diff for r in parity)
    log.info("web model parity ok: max |diff| %.3g (bound %g)", worst, tolerance)
    files = [
        ExportedFile(
            f"{WEB_DIR}/{WEB_MODEL}",
            len(flatbuffer),
            variant="web",
            max_abs_diff=worst,
            tolerance=tolerance,
            argmax_agreement=all(r.keras_argmax == r.tflite_argmax for r in parity),
        ),
        ExportedFile(f"{WEB_DIR}/", sum(p.stat().st_size for p in written)),
    ]
    return WebExport(f"written ({len(written)} files, window {settings.window})", files, parity)


def bundle_export(export_dir: str | Path, settings: WebSettings, tolerance: float) -> WebExport:
    """(Re)write ``<export_dir>/web/`` of an existing export from its ``model.keras``.

    For an export made without the npm packages, or to pick up a changed app. The new bundle
    is built beside the old one and replaces it only when complete.

    Args:
        export_dir: an islr export (``model.keras``, the sign map).
        settings: ``export.web``.
        tolerance: the parity bound (``export.tolerances.fp32``).

    Raises:
        FileNotFoundError: ``export_dir`` holds no ``model.keras`` or sign map.
        ParityError: the web model does not reproduce the inference model.
    """
    layout = ExportLayout(Path(export_dir))
    for needed in (layout.inference_keras, layout.sign_map):
        if not needed.is_file():
            raise FileNotFoundError(f"{needed}: not found (is {export_dir} an islr export?)")
    model = load_network_file(layout.inference_keras)
    report = json.loads(layout.report_json.read_text()) if layout.report_json.is_file() else {}
    staging = layout.out_dir / f".{WEB_DIR}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        result = export_web(
            staging,
            model,
            read_sign_map(layout.sign_map),
            settings,
            output=report.get("output", "logits"),
            videos=parity_inputs(inference_max_len(model)),
            keras_fn=lambda frames: run_keras(model, frames),
            tolerance=tolerance,
            calibration=export_calibration(layout.out_dir),
        )
        if (staging / WEB_DIR).is_dir():
            shutil.rmtree(layout.out_dir / WEB_DIR, ignore_errors=True)
            (staging / WEB_DIR).rename(layout.out_dir / WEB_DIR)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return result


def write_web_app(job: ExportJob) -> None:
    """The export's web step: :func:`export_web` into the staged export, recorded in the job.

    The web model's file joins the report (with its parity bound and, measured later, its
    latency on one window); ``job.web`` says whether the bundle was written or why not.

    Raises:
        ParityError: the web model does not reproduce the inference model.
    """
    result = export_web(
        job.staged.out_dir,
        job.model,
        job.sign_map,
        job.settings.web,
        output=job.settings.output,
        videos=job.parity_inputs,
        keras_fn=job.keras_scores,
        tolerance=job.settings.tolerances["fp32"],
        calibration=export_calibration(job.staged.out_dir),
    )
    job.files.extend(result.files)
    job.parity.extend(result.parity)
    job.web = result.status
    if result.files:
        model_file = result.files[0].file
        job.runners[model_file] = WebModelRunner(job.staged.out_dir / model_file)
