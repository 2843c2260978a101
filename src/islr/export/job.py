"""What one export works on: the checked networks, their inference model and its references.

:func:`load_job` does everything that can fail before a file is written (a missing source, a
diverged network, a sign map that does not fit); the steps of :mod:`islr.export.steps` then
fill ``job.layout`` (the temporary export directory) and record what they wrote in the job.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np

from islr.errors import NonFiniteWeightsError
from islr.export.inference import (
    build_inference_model,
    inference_max_len,
    load_network,
    resolve_network_path,
    run_keras,
)
from islr.export.parity import ParityResult, parity_inputs
from islr.export.predictor import find_calibration
from islr.export.report import ExportedFile
from islr.export.settings import ExportSettings
from islr.export.sign_map import resolve_sign_map
from islr.model.finite import describe_paths, nonfinite_variables
from islr.run_layout import CALIBRATION, ExportLayout
from islr.train.calibration import Calibration, read_calibration

__all__ = ["ExportJob", "check_finite_network", "load_job"]

PARITY_SEED = 0
"""Seed of the synthetic parity inputs (the latency video uses the next one)."""


@dataclass
class ExportJob:
    """The shared state of one export's steps.

    Attributes:
        settings: the export settings.
        out_dir: where the export is published.
        sources: the ``.keras`` files of the networks.
        model: the raw-frame inference model ``[T, 543, 3] -> [C]``.
        sign_map: sign -> class index, as shipped.
        max_len: the longest ``max_len`` of the networks (``None``: unbounded).
        parity_inputs: the parity gate's videos by name.
        expected: the Keras model's scores on each of them.
        latency_input: the video whose latency is measured.
        layout: the temporary export directory the steps write into.
        files: what the steps wrote, in report order.
        parity: every parity comparison.
        runners: ``file name -> scores function`` of each file whose latency is measured.
        web: what the browser-app step did (``written (...)`` / ``skipped (why)``).
        calibration: the source run's temperature and rejection threshold (``None``: none to
            ship, ``calibration_note`` says why).
        calibration_source: the ``calibration.json`` it was read from.
        calibration_note: what the export does about calibration, for its report.
    """

    settings: ExportSettings
    out_dir: Path
    sources: list[Path]
    model: keras.Model
    sign_map: dict[str, int]
    max_len: int | None
    parity_inputs: dict[str, np.ndarray]
    expected: dict[str, np.ndarray]
    latency_input: np.ndarray
    layout: ExportLayout | None = None
    files: list[ExportedFile] = field(default_factory=list)
    parity: list[ParityResult] = field(default_factory=list)
    runners: dict[str, Callable[[np.ndarray], np.ndarray]] = field(default_factory=dict)
    web: str | None = None
    calibration: Calibration | None = None
    calibration_source: Path | None = None
    calibration_note: str = ""

    @property
    def staged(self) -> ExportLayout:
        """The temporary export directory (set once the steps run)."""
        if self.layout is None:
            raise RuntimeError("ExportJob: no staging directory yet")
        return self.layout

    def keras_scores(self, frames: np.ndarray) -> np.ndarray:
        """The inference model's scores for one video."""
        return run_keras(self.model, frames)


def check_finite_network(network: keras.Model, path: str | Path) -> None:
    """Raise :class:`~islr.errors.NonFiniteWeightsError` if any weight of ``network`` is NaN/inf.

    A diverged network must never be exported, whatever the parity gate would say about it.
    """
    bad = nonfinite_variables(network)
    if bad:
        raise NonFiniteWeightsError(
            f"{path}: {len(bad)} weight tensor(s) hold NaN/inf ({describe_paths(bad)}); the "
            "network diverged in training and is not exported"
        )


def load_job(
    sources: Sequence[str | Path],
    out_dir: Path,
    settings: ExportSettings,
    *,
    max_len: int | None,
    sign_map: str | Path | None,
) -> ExportJob:
    """Load and check the networks, build their inference model and its parity references.

    Raises:
        ValueError, FileNotFoundError: no or bad sources, a sign map that does not fit.
        NonFiniteWeightsError: a network's weights or scores hold NaN/inf.
    """
    if not sources:
        raise ValueError("export: at least one source is required")
    paths = [resolve_network_path(s) for s in sources]
    networks = [load_network(p) for p in paths]
    for path, network in zip(paths, networks, strict=True):
        check_finite_network(network, path)
    model = build_inference_model(networks, max_len=max_len, output=settings.output)
    num_classes = int(model.output_shape[-1])
    mapping = resolve_sign_map([Path(s) for s in sources], sign_map, num_classes)
    seq_len = inference_max_len(model)
    inputs = parity_inputs(seq_len, seed=PARITY_SEED)
    expected = {name: run_keras(model, frames) for name, frames in inputs.items()}
    for name, scores in expected.items():
        if not np.isfinite(scores).all():
            raise NonFiniteWeightsError(
                f"{', '.join(map(str, paths))}: the network's scores on the {name!r} parity "
                "input are NaN/inf; nothing exported"
            )
    latency = parity_inputs(None, PARITY_SEED + 1, typical_frames=settings.latency_frames)
    source, calibration, note = _source_calibration(paths)

    return ExportJob(
        settings=settings,
        out_dir=out_dir,
        sources=paths,
        model=model,
        sign_map=mapping,
        max_len=seq_len,
        parity_inputs=inputs,
        expected=expected,
        latency_input=latency["typical"],
        calibration=calibration,
        calibration_source=source,
        calibration_note=note,
    )


def _source_calibration(paths: Sequence[Path]) -> tuple[Path | None, Calibration | None, str]:
    """The ``calibration.json`` an export of ``paths`` ships, the calibration, and a note.

    Only a single network's: a temperature is fitted to one network's logits, not to the mean
    logits of an ensemble.

    Raises:
        ValueError: the source's calibration file is unreadable (naming it).
    """
    found = [find_calibration(p) for p in paths]
    if len(paths) > 1:
        have = sum(f is not None for f in found)
        return (
            None,
            None,
            (
                f"none: an ensemble of {len(paths)} networks ({have} with a {CALIBRATION}, each "
                "fitted to its own network); islr-predict rejects no clip for confidence unless "
                "--min-confidence is given"
            ),
        )
    if found[0] is None:
        return (
            None,
            None,
            (
                f"none: {paths[0]} has no {CALIBRATION} (a run without a validation fold, or "
                "calibration.enabled=false); islr-predict rejects no clip for confidence unless "
                "--min-confidence is given"
            ),
        )
    cal = read_calibration(found[0])
    met = "" if cal.target_met else ", target NOT reached on validation"
    return (
        found[0],
        cal,
        (
            f"{CALIBRATION} from {found[0]}: temperature {cal.temperature:.4f}, rejection "
            f"threshold {cal.threshold:.4f} ({100 * cal.target_precision:g} % precision on "
            f"validation fold {cal.fold}, coverage {100 * cal.coverage:.1f} %{met})"
        ),
    )
