"""The steps of an export, in order; each writes into ``job.staged`` and records its files.

:func:`islr.export.exporter.export_models` calls them one after the other inside the staging
directory, so a step that raises leaves nothing published.
"""

from __future__ import annotations

import json
import logging
import shutil
import statistics
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from islr.export import tflite
from islr.export.job import ExportJob
from islr.export.parity import check_parity
from islr.export.report import ExportedFile, ExportReport
from islr.run_layout import CALIBRATION, INFERENCE_KERAS, SAVED_MODEL, SUBMISSION

__all__ = [
    "copy_calibration",
    "measure_latency",
    "median_latency_ms",
    "write_inference_keras",
    "write_report",
    "write_saved_model",
    "write_sign_map",
    "write_submission",
    "write_tflite_variants",
]

log = logging.getLogger(__name__)

LATENCY_WARMUP = 3
"""Untimed calls before the latency is measured."""


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def write_inference_keras(job: ExportJob) -> None:
    """``model.keras``: the raw-frame inference model (what ``islr-predict`` loads)."""
    job.model.save(job.staged.inference_keras)
    job.files.append(ExportedFile(INFERENCE_KERAS, job.staged.inference_keras.stat().st_size))
    job.runners[INFERENCE_KERAS] = job.keras_scores


def write_saved_model(job: ExportJob) -> None:
    """``saved_model/`` with the Kaggle signature, the TFLite variants' source.

    Listed in the report only when ``keep_saved_model``; otherwise
    :func:`write_tflite_variants` removes it once converted.
    """
    tflite.write_saved_model(job.model, job.staged.saved_model)
    if job.settings.keep_saved_model:
        job.files.append(ExportedFile(SAVED_MODEL + "/", _dir_size(job.staged.saved_model)))


def write_tflite_variants(job: ExportJob) -> None:
    """``model_<variant>.tflite`` per variant, each through the parity gate.

    Raises:
        ParityError: a variant does not reproduce the Keras model.
        ExportError: a conversion failed.
    """
    for variant in job.settings.variants:
        log.info("converting %s", variant)
        flatbuffer = tflite.convert_saved_model(job.staged.saved_model, variant)
        path = job.staged.tflite(variant)
        path.write_bytes(flatbuffer)
        runner = tflite.TFLiteRunner(path, num_threads=1)
        bound = job.settings.tolerances[variant]
        results = check_parity(
            job.keras_scores, runner, variant, job.parity_inputs, bound, expected=job.expected
        )
        job.parity.extend(results)
        worst = max(r.max_abs_diff for r in results)
        log.info("%s parity ok: max |diff| %.3g (bound %g)", variant, worst, bound)
        job.files.append(
            ExportedFile(
                path.name,
                len(flatbuffer),
                variant=variant,
                max_abs_diff=worst,
                tolerance=bound,
                argmax_agreement=all(r.keras_argmax == r.tflite_argmax for r in results),
            )
        )
        job.runners[path.name] = runner
    if not job.settings.keep_saved_model:
        shutil.rmtree(job.staged.saved_model)


def median_latency_ms(
    fn: Callable[[np.ndarray], object], frames: np.ndarray, runs: int, warmup: int = LATENCY_WARMUP
) -> float:
    """Median wall time of ``fn(frames)`` in milliseconds over ``runs`` calls."""
    for _ in range(warmup):
        fn(frames)
    times = []
    for _ in range(max(1, runs)):
        start = time.perf_counter()
        fn(frames)
        times.append((time.perf_counter() - start) * 1000.0)
    return float(statistics.median(times))


def measure_latency(job: ExportJob) -> None:
    """The median latency of every file with a runner; after the gate, so only of what ships."""
    for entry in job.files:
        fn = job.runners.get(entry.file)
        if fn is not None:
            entry.median_latency_ms = median_latency_ms(
                fn, job.latency_input, job.settings.latency_runs
            )


def write_submission(job: ExportJob) -> None:
    """``submission.zip``: the submission variant as ``model.tflite``."""
    with zipfile.ZipFile(job.staged.submission, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(job.staged.tflite(job.settings.submission_variant), arcname="model.tflite")
    job.files.append(ExportedFile(SUBMISSION, job.staged.submission.stat().st_size))


def write_sign_map(job: ExportJob) -> None:
    """The sign map the exported model's class indices mean."""
    job.staged.sign_map.write_text(json.dumps(job.sign_map, indent=1), encoding="utf-8")


def copy_calibration(job: ExportJob) -> None:
    """``calibration.json``: the source run's temperature and rejection threshold, which the
    predictor applies (the models themselves stay as they are: the Kaggle contract)."""
    if job.calibration_source is None:
        log.info("export without calibration: %s", job.calibration_note)
        return
    shutil.copyfile(job.calibration_source, job.staged.calibration)
    job.files.append(ExportedFile(CALIBRATION, job.staged.calibration.stat().st_size))


def write_report(job: ExportJob) -> ExportReport:
    """``report.json`` and ``report.md``: every file with its size, parity and latency."""
    report = ExportReport(
        out_dir=str(job.out_dir),
        sources=[str(p) for p in job.sources],
        num_classes=int(job.model.output_shape[-1]),
        max_len=job.max_len,
        output=job.settings.output,
        submission_variant=job.settings.submission_variant,
        latency_frames=job.settings.latency_frames,
        files=job.files,
        parity=[r.to_dict() for r in job.parity],
        web=job.web,
        calibration=job.calibration_note,
    )
    job.staged.report_json.write_text(json.dumps(report.to_dict(), indent=2), encoding="utf-8")
    job.staged.report_md.write_text(report.to_markdown(), encoding="utf-8")
    return report
