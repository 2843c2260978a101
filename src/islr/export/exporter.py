"""Export trained networks: inference ``.keras``, SavedModel, parity-checked TFLite, submission.

:func:`export_models` is the sequence of steps; what it is configured by
(:mod:`islr.export.settings`), what it works on (:mod:`islr.export.job`), the steps
(:mod:`islr.export.steps`) and the atomic publication (:mod:`islr.export.staging`) live beside
it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from islr.export.job import load_job
from islr.export.report import ExportReport
from islr.export.settings import ExportSettings
from islr.export.staging import check_out_dir, staged_directory
from islr.export.steps import (
    copy_calibration,
    measure_latency,
    write_inference_keras,
    write_report,
    write_saved_model,
    write_sign_map,
    write_submission,
    write_tflite_variants,
)
from islr.export.web_bundle import write_web_app
from islr.run_layout import RunLayout

log = logging.getLogger(__name__)


def export_models(
    sources: Sequence[str | Path],
    out_dir: str | Path,
    settings: ExportSettings,
    *,
    max_len: int | None,
    sign_map: str | Path | None,
) -> ExportReport:
    """Export one network or an ensemble (mean logits) for Kaggle and for ``islr-predict``.

    Writes into ``out_dir``: ``model.keras`` (raw-frame inference model), ``saved_model/``
    (if kept), ``model_<variant>.tflite`` per variant, ``submission.zip`` (``model.tflite`` =
    the submission variant), the sign map, ``calibration.json`` (a single source run's
    temperature and rejection threshold, when it has one), ``web/`` (the browser app, when
    the npm packages are installed), ``report.json`` and ``report.md``. Everything is
    written into a temporary sibling and moved into place only after every TFLite variant
    passed the parity gate.

    Args:
        sources: run directories (``checkpoints/best.keras``) or ``.keras`` network files.
        out_dir: destination; replaced only if it is empty or a previous export.
        settings: the ``export`` config group.
        max_len: expected ``max_len`` of the networks (``None``: accept theirs).
        sign_map: sign map JSON (``None``: the one beside the sources, else the packaged
            Kaggle map if the class count fits, else placeholder names ``class_<i>``).

    Raises:
        ParityError: a variant does not reproduce the Keras model (nothing is written).
        NonFiniteWeightsError: a network diverged (nothing is written).
        ValueError, FileNotFoundError, FileExistsError: bad sources, sign map or out_dir.
    """
    out_dir = Path(out_dir)
    check_out_dir(out_dir)
    job = load_job(sources, out_dir, settings, max_len=max_len, sign_map=sign_map)
    with staged_directory(out_dir) as staged:
        job.layout = staged
        write_inference_keras(job)
        write_saved_model(job)
        write_tflite_variants(job)  # the parity gate
        write_web_app(job)  # the browser app, its model through the same gate
        measure_latency(job)
        write_submission(job)
        write_sign_map(job)
        copy_calibration(job)
        report = write_report(job)
    log.info("exported %d network(s) to %s", len(job.sources), out_dir)
    return report


def export_run(
    run_dir: str | Path, out_dir: str | Path | None = None, cfg: Mapping[str, Any] | None = None
) -> ExportReport | None:
    """Export a finished training run (``<run_dir>/checkpoints/best.keras``).

    Args:
        run_dir: the training run directory (see the run-directory contract).
        out_dir: destination; default ``cfg.out_dir`` if it resolves, else ``<run_dir>/export``.
        cfg: the ``export`` config node (or a full config holding one). ``None``: the run's own
            ``.hydra/config.yaml`` ``export`` node if present, else ``conf/export/default.yaml``.

    Returns:
        The report, or ``None`` when the config has ``enabled: false``.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"{run_dir}: run directory not found")
    if cfg is None:
        hydra_cfg = RunLayout(run_dir).hydra_config
        if hydra_cfg.is_file():
            from omegaconf import OmegaConf

            full = OmegaConf.load(hydra_cfg)
            cfg = full.get("export") if "export" in full else None
    settings = ExportSettings.shipped() if cfg is None else ExportSettings.from_config(cfg)
    if not settings.enabled:
        log.info("export disabled by config; nothing exported for %s", run_dir)
        return None
    target = Path(out_dir or settings.out_dir or RunLayout(run_dir).export)
    return export_models([run_dir], target, settings, max_len=None, sign_map=None)
