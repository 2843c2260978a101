"""Export trained networks: inference ``.keras``, SavedModel, parity-checked TFLite, submission.

This module runs an export; what it is configured by (:mod:`islr.export.settings`), what it
reports (:mod:`islr.export.report`) and which sign map it ships (:mod:`islr.export.sign_map`)
live beside it, and their names stay importable from here.

Everything is written into a temporary sibling of ``out_dir`` and moved into place only after
every TFLite variant passed the parity gate, so a failed export never leaves half a directory.
"""

from __future__ import annotations

import json
import logging
import shutil
import statistics
import tempfile
import time
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from islr.errors import NonFiniteWeightsError
from islr.export import tflite
from islr.export.inference import (
    build_inference_model,
    inference_max_len,
    load_network,
    resolve_network_path,
    run_keras,
)
from islr.export.parity import DEFAULT_TOLERANCES, ParityResult, check_parity, parity_inputs
from islr.export.report import ExportedFile, ExportReport
from islr.export.settings import ExportSettings
from islr.export.sign_map import find_sign_map as find_sign_map  # re-exported
from islr.export.sign_map import resolve_sign_map
from islr.run_layout import (
    INFERENCE_KERAS,
    REPORT_JSON,
    SAVED_MODEL,
    SUBMISSION,
    ExportLayout,
    RunLayout,
)
from islr.run_layout import REPORT_MD as REPORT_MD  # re-exported
from islr.run_layout import SIGN_MAP_FILENAME as SIGN_MAP_FILENAME  # re-exported

log = logging.getLogger(__name__)


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def median_latency_ms(fn: Any, frames: np.ndarray, runs: int = 20, warmup: int = 3) -> float:
    """Median wall time of ``fn(frames)`` in milliseconds."""
    for _ in range(warmup):
        fn(frames)
    times = []
    for _ in range(max(1, runs)):
        start = time.perf_counter()
        fn(frames)
        times.append((time.perf_counter() - start) * 1000.0)
    return float(statistics.median(times))


def check_finite_network(network: Any, path: str | Path) -> None:
    """Raise :class:`~islr.errors.NonFiniteWeightsError` if any weight of ``network`` is NaN/inf.

    A diverged network must never be exported, whatever the parity gate would say about it.
    """
    import keras

    bad = [
        w.path
        for w in network.weights
        if np.issubdtype(np.dtype(w.dtype), np.floating)
        and not np.isfinite(keras.ops.convert_to_numpy(w.value)).all()
    ]
    if bad:
        shown = ", ".join(bad[:3]) + (", ..." if len(bad) > 3 else "")
        raise NonFiniteWeightsError(
            f"{path}: {len(bad)} weight tensor(s) hold NaN/inf ({shown}); the network diverged "
            "in training and is not exported"
        )


def _prepare_out_dir(out_dir: Path) -> None:
    """Refuse to replace a directory that is not a previous islr export."""
    if out_dir.exists():
        if not out_dir.is_dir():
            raise FileExistsError(f"{out_dir}: exists and is not a directory")
        if any(out_dir.iterdir()) and not ExportLayout(out_dir).report_json.is_file():
            raise FileExistsError(
                f"{out_dir}: exists, is not empty and holds no {REPORT_JSON} "
                "(not a previous export); choose another out_dir"
            )


def export_models(
    sources: Sequence[str | Path],
    out_dir: str | Path,
    *,
    variants: Sequence[str] = tflite.VARIANTS,
    submission_variant: str = "fp16",
    keep_saved_model: bool = True,
    parity_tolerance: float = DEFAULT_TOLERANCES["fp32"],
    tolerances: Mapping[str, float] | None = None,
    output: str = "logits",
    max_len: int | None = None,
    sign_map: str | Path | None = None,
    latency_frames: int = 64,
    latency_runs: int = 20,
    parity_seed: int = 0,
) -> ExportReport:
    """Export one network or an ensemble (mean logits) for Kaggle and for ``islr-predict``.

    Writes into ``out_dir``: ``model.keras`` (raw-frame inference model), ``saved_model/``
    (if kept), ``model_<variant>.tflite`` per variant, ``submission.zip`` (``model.tflite`` =
    ``submission_variant``), the sign map, ``report.json`` and ``report.md``.

    Args:
        sources: run directories (``checkpoints/best.keras``) or ``.keras`` network files.
        out_dir: destination; replaced only if it is empty or a previous export.
        variants: TFLite variants among ``fp32``, ``fp16``, ``dynamic``.
        submission_variant: the variant zipped as ``model.tflite``.
        keep_saved_model: keep the intermediate SavedModel directory.
        parity_tolerance: max |score diff| allowed for fp32.
        tolerances: per-variant bounds for the other variants (defaults:
            :data:`~islr.export.parity.DEFAULT_TOLERANCES`).
        output: ``"logits"`` or ``"probabilities"``.
        max_len: expected ``max_len`` of the networks (``None``: accept theirs).
        sign_map: sign map JSON; default: the one beside the sources, else the packaged
            Kaggle map if the class count fits, else placeholder names ``class_<i>``.
        latency_frames, latency_runs: the latency measurement (one thread).
        parity_seed: seed of the synthetic parity inputs.

    Raises:
        ParityError: a variant does not reproduce the Keras model (nothing is written).
        ValueError, FileNotFoundError, FileExistsError: bad sources, settings or out_dir.
    """
    variants = tuple(variants)
    if not variants:
        raise ValueError("export_models: variants must not be empty")
    bad = [v for v in variants if v not in tflite.VARIANTS]
    if bad:
        raise ValueError(f"export_models: unknown variant(s) {bad}; choose from {tflite.VARIANTS}")
    if submission_variant not in variants:
        raise ValueError(
            f"export_models: submission_variant {submission_variant!r} is not among the "
            f"exported variants {variants}"
        )
    if not sources:
        raise ValueError("export_models: at least one source is required")
    bounds = {**DEFAULT_TOLERANCES, **dict(tolerances or {}), "fp32": float(parity_tolerance)}
    out_dir = Path(out_dir)
    _prepare_out_dir(out_dir)
    paths = [resolve_network_path(s) for s in sources]

    networks = [load_network(p) for p in paths]
    for path, network in zip(paths, networks, strict=True):
        check_finite_network(network, path)
    model = build_inference_model(networks, max_len=max_len, output=output)
    num_classes = int(model.output_shape[-1])
    mapping = resolve_sign_map([Path(s) for s in sources], sign_map, num_classes)
    seq_len = inference_max_len(model)
    inputs = parity_inputs(seq_len, seed=parity_seed)
    expected = {name: run_keras(model, frames) for name, frames in inputs.items()}
    for name, scores in expected.items():
        if not np.isfinite(scores).all():
            raise NonFiniteWeightsError(
                f"{', '.join(map(str, paths))}: the network's scores on the {name!r} parity "
                "input are NaN/inf; nothing exported"
            )
    latency_input = parity_inputs(None, seed=parity_seed + 1, typical_frames=latency_frames)[
        "typical"
    ]

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; the export is an ordinary directory
    previous: Path | None = None
    staged = ExportLayout(tmp)
    try:
        files: list[ExportedFile] = []
        parity: list[ParityResult] = []
        runners: dict[str, tflite.TFLiteRunner] = {}
        model.save(staged.inference_keras)
        files.append(ExportedFile(INFERENCE_KERAS, staged.inference_keras.stat().st_size))
        saved = tflite.write_saved_model(model, staged.saved_model)
        for variant in variants:
            log.info("converting %s", variant)
            flatbuffer = tflite.convert_saved_model(saved, variant)
            name = staged.tflite(variant).name
            staged.tflite(variant).write_bytes(flatbuffer)
            runner = tflite.TFLiteRunner(staged.tflite(variant), num_threads=1)
            results = check_parity(
                lambda f: run_keras(model, f),
                runner,
                variant,
                inputs,
                bounds[variant],
                expected=expected,
            )
            parity.extend(results)
            log.info(
                "%s parity ok: max |diff| %.3g (bound %g)",
                variant,
                max(r.max_abs_diff for r in results),
                bounds[variant],
            )
            files.append(
                ExportedFile(
                    name,
                    len(flatbuffer),
                    variant=variant,
                    max_abs_diff=max(r.max_abs_diff for r in results),
                    tolerance=bounds[variant],
                    argmax_agreement=all(r.keras_argmax == r.tflite_argmax for r in results),
                )
            )
            runners[name] = runner
        # Latency only once every variant has passed the gate.
        for entry in files:
            if entry.file in runners:
                fn = runners[entry.file]
            elif entry.file == INFERENCE_KERAS:
                fn = lambda f: run_keras(model, f)  # noqa: E731
            else:
                continue
            entry.median_latency_ms = median_latency_ms(fn, latency_input, latency_runs)
        if keep_saved_model:
            files.insert(1, ExportedFile(SAVED_MODEL + "/", _dir_size(saved)))
        else:
            shutil.rmtree(saved)
        with zipfile.ZipFile(staged.submission, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.write(staged.tflite(submission_variant), arcname="model.tflite")
        files.append(ExportedFile(SUBMISSION, staged.submission.stat().st_size))
        staged.sign_map.write_text(json.dumps(mapping, indent=1), encoding="utf-8")

        report = ExportReport(
            out_dir=str(out_dir),
            sources=[str(p) for p in paths],
            num_classes=num_classes,
            max_len=seq_len,
            output=output,
            submission_variant=submission_variant,
            latency_frames=latency_frames,
            files=files,
            parity=[r.to_dict() for r in parity],
        )
        staged.report_json.write_text(json.dumps(report.to_dict(), indent=2), encoding="utf-8")
        staged.report_md.write_text(report.to_markdown(), encoding="utf-8")
        if out_dir.exists():  # checked above: empty or a previous export
            # Set the previous export aside (a rename) rather than delete it first: a failure
            # or a kill at any moment leaves the old export or the new one, never neither.
            previous = out_dir.with_name(f".{out_dir.name}.previous-{tmp.name[-8:]}")
            out_dir.rename(previous)
        tmp.rename(out_dir)
    except BaseException:
        if previous is not None and not out_dir.exists():
            previous.rename(out_dir)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if previous is not None:
        shutil.rmtree(previous, ignore_errors=True)
    log.info("exported %d network(s) to %s", len(paths), out_dir)
    return report


def export_run(
    run_dir: str | Path, out_dir: str | Path | None = None, cfg: Mapping[str, Any] | None = None
) -> ExportReport | None:
    """Export a finished training run (``<run_dir>/checkpoints/best.keras``).

    Args:
        run_dir: the training run directory (see the run-directory contract).
        out_dir: destination; default ``cfg.out_dir`` if it resolves, else ``<run_dir>/export``.
        cfg: the ``export`` config node (or a full config holding one). ``None``: the run's own
            ``.hydra/config.yaml`` ``export`` node if present, else the defaults.

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
    settings = ExportSettings.from_config(cfg)
    if not settings.enabled:
        log.info("export disabled by config; nothing exported for %s", run_dir)
        return None
    target = Path(out_dir or settings.out_dir or RunLayout(run_dir).export)
    return export_models(
        [run_dir],
        target,
        variants=settings.variants,
        submission_variant=settings.submission_variant,
        keep_saved_model=settings.keep_saved_model,
        parity_tolerance=settings.tolerances.get("fp32", DEFAULT_TOLERANCES["fp32"]),
        tolerances=settings.tolerances,
        output=settings.output,
        latency_frames=settings.latency_frames,
        latency_runs=settings.latency_runs,
    )
