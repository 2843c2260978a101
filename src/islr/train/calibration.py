"""Calibrated confidence and rejection: a temperature fitted on the validation fold, its
expected calibration error, and the confidence threshold below which a clip is "no sign".

Pure numpy (no TensorFlow): the training run fits it on the logits its final evaluation
computed, ``islr-eval`` reports it, the predictor (:mod:`islr.export.predict`) applies it.

Definitions (``p = softmax(logits / T)``, confidence = ``max p``, a clip is correct when the
argmax of its logits is its label):

- **Temperature scaling**: one ``T > 0`` for all classes, the minimiser of the mean negative
  log-likelihood (NLL) of the labels on the validation fold. Dividing the logits by ``T``
  keeps every argmax, so accuracy is unchanged; only the confidence changes.
- **Expected calibration error (ECE)**: the confidences are put into ``bins`` equal-width bins
  over [0, 1] (bin ``b`` holds ``b/B < c <= (b+1)/B``, the first one also ``c = 0``);
  ``ECE = sum_b (n_b / N) * |accuracy_b - mean confidence_b|``.
- **Rejection threshold** for a target precision: the smallest ``t`` among the validation
  confidences such that the clips accepted at ``t`` (confidence ``>= t``) are correct at least
  ``target_precision`` of the time. Coverage is the fraction of clips accepted. When no ``t``
  reaches the target, the threshold is the highest confidence seen and ``target_met`` is false.

``calibration.json`` (:class:`Calibration`, in a run directory and in its export) records all
of these.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from islr.atomic_io import write_json_atomic

__all__ = [
    "Calibration",
    "ThresholdChoice",
    "apply_temperature",
    "choose_threshold",
    "expected_calibration_error",
    "fit_calibration",
    "fit_temperature",
    "negative_log_likelihood",
    "read_calibration",
    "reliability_bins",
    "write_calibration",
]

log = logging.getLogger(__name__)

LOG_T_RANGE = (math.log(1e-2), math.log(1e2))
"""Search interval of ``log T``: the fitted temperature lies in [0.01, 100]."""

_GRID_POINTS = 161
_GOLDEN_STEPS = 60


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def apply_temperature(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """``softmax(logits / temperature)`` along the last axis (``[C]`` or ``[N, C]``), float64."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _check(logits: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if logits.ndim != 2 or len(logits) != len(labels):
        raise ValueError(f"logits {logits.shape} and labels {labels.shape} do not match")
    if len(labels) == 0:
        raise ValueError("no samples")
    if labels.min() < 0 or labels.max() >= logits.shape[1]:
        raise ValueError(f"labels must lie in 0..{logits.shape[1] - 1}")
    if not np.isfinite(logits).all():
        raise ValueError("logits hold NaN/inf")
    return logits, labels


def negative_log_likelihood(
    logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0
) -> float:
    """Mean ``-log softmax(logits / temperature)[label]`` (natural log)."""
    logits, labels = _check(logits, labels)
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    log_p = _log_softmax(logits / temperature)
    return float(-log_p[np.arange(len(labels)), labels].mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature minimising :func:`negative_log_likelihood` on ``(logits, labels)``.

    The NLL is convex in ``1/T``, hence unimodal in ``log T``: a grid over
    :data:`LOG_T_RANGE` brackets the minimum and a golden-section search refines it. A minimum
    at the edge of the range (e.g. every clip right with a margin: NLL falls as ``T -> 0``)
    returns that edge.
    """
    logits, labels = _check(logits, labels)
    rows = np.arange(len(labels))

    def nll(log_t: float) -> float:
        log_p = _log_softmax(logits / math.exp(log_t))
        return float(-log_p[rows, labels].mean())

    grid = np.linspace(*LOG_T_RANGE, _GRID_POINTS)
    values = np.array([nll(g) for g in grid])
    best = int(np.argmin(values))
    lo, hi = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    ratio = (math.sqrt(5) - 1) / 2
    a, b = lo + (1 - ratio) * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = nll(a), nll(b)
    for _ in range(_GOLDEN_STEPS):
        if fa <= fb:
            hi, b, fb = b, a, fa
            a = lo + (1 - ratio) * (hi - lo)
            fa = nll(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = nll(b)
    candidates = [(values[best], grid[best]), (fa, a), (fb, b)]
    return float(math.exp(min(candidates)[1]))


def _confidence_and_correct(
    probabilities: np.ndarray, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if probabilities.ndim != 2 or len(probabilities) != len(labels) or len(labels) == 0:
        raise ValueError(
            f"probabilities {probabilities.shape} and labels {labels.shape} do not match"
        )
    return probabilities.max(axis=1), probabilities.argmax(axis=1) == labels


def reliability_bins(
    probabilities: np.ndarray, labels: np.ndarray, bins: int = 15
) -> list[dict[str, float]]:
    """Per equal-width confidence bin: its edges, clip count, accuracy and mean confidence
    (NaN for an empty bin); the bins of :func:`expected_calibration_error`."""
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    confidence, correct = _confidence_and_correct(probabilities, labels)
    edges = np.linspace(0.0, 1.0, bins + 1)
    # side="left": an edge value belongs to the bin below it, so bin b is (b/B, (b+1)/B]
    index = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)
    out = []
    for b in range(bins):
        sel = index == b
        n = int(sel.sum())
        out.append(
            {
                "low": float(edges[b]),
                "high": float(edges[b + 1]),
                "count": n,
                "accuracy": float(correct[sel].mean()) if n else float("nan"),
                "confidence": float(confidence[sel].mean()) if n else float("nan"),
            }
        )
    return out


def expected_calibration_error(
    probabilities: np.ndarray, labels: np.ndarray, bins: int = 15
) -> float:
    """ECE of ``probabilities [N, C]`` (see the module docstring for the definition)."""
    total = len(labels)
    return float(
        sum(
            b["count"] / total * abs(b["accuracy"] - b["confidence"])
            for b in reliability_bins(probabilities, labels, bins)
            if b["count"]
        )
    )


@dataclass(frozen=True)
class ThresholdChoice:
    """A rejection threshold and what it does on the clips it was chosen on.

    Attributes:
        threshold: accept a clip when its confidence is ``>= threshold``.
        coverage: fraction of the clips accepted.
        precision: fraction of the accepted clips that are correct.
        target_met: whether ``precision >= target`` (false: the target was unreachable).
    """

    threshold: float
    coverage: float
    precision: float
    target_met: bool


def choose_threshold(
    confidence: np.ndarray, correct: np.ndarray, target_precision: float
) -> ThresholdChoice:
    """The smallest confidence threshold whose accepted clips reach ``target_precision``.

    Candidates are the distinct confidences seen (accepting ``>= t`` keeps ties together).
    Unreachable target: the highest confidence seen, with ``target_met=False`` (and a warning).
    """
    if not 0 < target_precision <= 1:
        raise ValueError(f"target_precision must be in (0, 1], got {target_precision}")
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=bool)
    if confidence.shape != correct.shape or confidence.ndim != 1 or len(confidence) == 0:
        raise ValueError(f"confidence {confidence.shape} and correct {correct.shape} do not match")
    order = np.argsort(-confidence, kind="stable")
    conf, hits = confidence[order], np.cumsum(correct[order])
    # the last position of each run of equal confidences: accepting >= conf[i] accepts 0..i
    last = np.flatnonzero(np.append(conf[1:] != conf[:-1], True))
    accepted = last + 1
    precision = hits[last] / accepted
    # a tiny tolerance: a precision of exactly the target must not fail on rounding
    meets = np.flatnonzero(precision >= target_precision - 1e-12)
    n = len(confidence)
    if len(meets):
        i = meets[-1]  # the lowest threshold that still meets it
        return ThresholdChoice(float(conf[last[i]]), accepted[i] / n, float(precision[i]), True)
    log.warning(
        "rejection: no confidence threshold reaches %.1f %% precision on these %d clips (best "
        "%.1f %%); threshold set to the highest confidence seen, %.4f",
        100 * target_precision,
        n,
        100 * precision.max(),
        conf[0],
    )
    return ThresholdChoice(float(conf[0]), accepted[0] / n, float(precision[0]), False)


@dataclass(frozen=True)
class Calibration:
    """What ``calibration.json`` holds (the keys of the file are these fields).

    Attributes:
        temperature: ``T``; calibrated probabilities are ``softmax(logits / T)``.
        threshold: the rejection threshold on the calibrated top probability.
        target_precision: the precision the threshold was chosen for.
        coverage: fraction of validation clips the threshold accepts.
        precision_at_threshold: their precision (top-1 accuracy of the accepted clips).
        target_met: whether that precision reached the target.
        ece_before, ece_after: ECE of ``softmax(logits)`` and of the calibrated probabilities.
        nll_before, nll_after: mean NLL likewise.
        num_clips: validation clips it was fitted on.
        fold: the validation fold.
        bins: ECE bins.
    """

    temperature: float
    threshold: float
    target_precision: float
    coverage: float
    precision_at_threshold: float
    target_met: bool
    ece_before: float
    ece_after: float
    nll_before: float
    nll_after: float
    num_clips: int
    fold: Any
    bins: int = 15

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        """Calibrated probabilities of ``logits`` (``[C]`` or ``[N, C]``)."""
        return apply_temperature(logits, self.temperature)

    def metrics(self) -> dict[str, float | bool]:
        """The figures as ``val_*`` metrics (``metrics.json``, the tracking loggers)."""
        return {
            "val_ece_before": self.ece_before,
            "val_ece_after": self.ece_after,
            "val_nll_before": self.nll_before,
            "val_nll_after": self.nll_after,
            "val_temperature": self.temperature,
            "val_rejection_threshold": self.threshold,
            "val_rejection_coverage": self.coverage,
            "val_rejection_precision": self.precision_at_threshold,
            "val_rejection_target_precision": self.target_precision,
            "val_rejection_target_met": self.target_met,
        }

    def to_dict(self) -> dict[str, Any]:
        """The file's content."""
        return asdict(self)


def fit_calibration(
    logits: np.ndarray,
    labels: np.ndarray,
    *,
    target_precision: float,
    bins: int = 15,
    fold: Any = None,
) -> Calibration:
    """Fit the temperature and choose the rejection threshold on validation logits.

    Rows with a NaN/inf logit are left out (with a warning): they have no probabilities.

    Raises:
        ValueError: no finite row, or mismatched shapes.
    """
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if logits.ndim != 2 or len(logits) != len(labels):
        raise ValueError(f"logits {logits.shape} and labels {labels.shape} do not match")
    finite = np.isfinite(logits).all(axis=1)
    if not finite.all():
        log.warning("calibration: %d clip(s) with NaN/inf logits left out", int((~finite).sum()))
        logits, labels = logits[finite], labels[finite]
    if len(labels) == 0:
        raise ValueError("calibration: no clip with finite logits")
    temperature = fit_temperature(logits, labels)
    before = apply_temperature(logits)
    after = apply_temperature(logits, temperature)
    confidence, correct = _confidence_and_correct(after, labels)
    choice = choose_threshold(confidence, correct, target_precision)
    return Calibration(
        temperature=temperature,
        threshold=choice.threshold,
        target_precision=float(target_precision),
        coverage=float(choice.coverage),
        precision_at_threshold=choice.precision,
        target_met=choice.target_met,
        ece_before=expected_calibration_error(before, labels, bins),
        ece_after=expected_calibration_error(after, labels, bins),
        nll_before=negative_log_likelihood(logits, labels),
        nll_after=negative_log_likelihood(logits, labels, temperature),
        num_clips=len(labels),
        fold=fold,
        bins=int(bins),
    )


def write_calibration(path: str | Path, calibration: Calibration) -> None:
    """Write ``calibration.json`` (atomically)."""
    write_json_atomic(Path(path), calibration.to_dict())


def read_calibration(path: str | Path) -> Calibration:
    """Read ``calibration.json``.

    Raises:
        ValueError: naming the file, when it is not valid JSON, lacks a key or holds a
            temperature that is not a positive number.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a readable calibration file ({exc})") from exc
    fields = {f.name: f for f in dataclasses.fields(Calibration)}
    required = [k for k, f in fields.items() if f.default is dataclasses.MISSING]
    missing = [k for k in required if k not in data] if isinstance(data, dict) else required
    if missing:
        raise ValueError(f"{path}: calibration file lacks {', '.join(missing)}")
    cal = Calibration(**{k: v for k, v in data.items() if k in fields})
    if not (isinstance(cal.temperature, int | float) and cal.temperature > 0):
        raise ValueError(f"{path}: temperature must be a positive number, got {cal.temperature}")
    if not (isinstance(cal.threshold, int | float) and 0 <= cal.threshold <= 1):
        raise ValueError(f"{path}: threshold must be in [0, 1], got {cal.threshold}")
    return cal
