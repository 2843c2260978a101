"""The parity gate: a TFLite file must reproduce the Keras inference model before it ships.

The bound per variant is ``export.tolerances`` (``conf/export/default.yaml`` says how it was
chosen).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass

import numpy as np

from islr.errors import ExportError
from islr.landmarks import LHAND, N_LANDMARKS, POINT_INDICES


class ParityError(ExportError):
    """A converted model does not reproduce the Keras inference model.

    Attributes:
        variant: TFLite variant that failed (``fp32``, ``fp16``, ``dynamic``).
        input_name: the parity input it failed on.
        detail: what went wrong, in words.
    """

    def __init__(self, variant: str, input_name: str, detail: str) -> None:
        self.variant = variant
        self.input_name = input_name
        self.detail = detail
        super().__init__(f"parity check failed for {variant} on input {input_name!r}: {detail}")


@dataclass(frozen=True)
class ParityResult:
    """One comparison of Keras and TFLite scores for one input."""

    variant: str
    input_name: str
    frames: int
    max_abs_diff: float
    keras_argmax: int
    tflite_argmax: int
    tolerance: float

    def to_dict(self) -> dict:
        return asdict(self)


def _smooth_walk(rng: np.random.Generator, frames: int) -> np.ndarray:
    """A plausible moving body: fixed layout plus a small random walk, coordinates ~[0.2, 0.8]."""
    layout = np.empty((N_LANDMARKS, 3), dtype=np.float32)
    layout[:, :2] = rng.uniform(0.3, 0.7, (N_LANDMARKS, 2))
    layout[:, 2] = rng.normal(0.0, 0.05, N_LANDMARKS)
    steps = rng.normal(0.0, 0.004, (frames, N_LANDMARKS, 3)).astype(np.float32)
    jitter = rng.normal(0.0, 0.002, (frames, N_LANDMARKS, 3)).astype(np.float32)
    return (layout + np.cumsum(steps, axis=0) + jitter).astype(np.float32)


def parity_inputs(
    max_len: int | None, seed: int = 0, typical_frames: int = 48
) -> dict[str, np.ndarray]:
    """Raw videos ``[T, 543, 3]`` that exercise the edge cases an exported model meets.

    ``typical`` (one hand missing, as in most real clips), ``single_frame`` (T=1),
    ``longer_than_max_len`` (T = max_len + 17: truncation after whole-sequence statistics),
    ``no_hands`` (both hands NaN) and ``undetected_frames`` (some frames entirely NaN).
    """
    rng = np.random.default_rng(seed)
    lhand = list(LHAND)
    rhand = [i for i in POINT_INDICES if i >= 522]
    long_t = (max_len if max_len is not None else 2 * typical_frames) + 17

    typical = _smooth_walk(rng, typical_frames)
    typical[:, lhand] = np.nan
    no_hands = _smooth_walk(rng, typical_frames)
    no_hands[:, lhand + rhand] = np.nan
    undetected = _smooth_walk(rng, typical_frames)
    undetected[:, rhand] = np.nan
    undetected[:3] = np.nan  # nothing detected at the start, and in a gap later on
    undetected[typical_frames // 2 : typical_frames // 2 + 4] = np.nan
    longer = _smooth_walk(rng, long_t)
    longer[: long_t // 2, lhand] = np.nan
    return {
        "typical": typical,
        "single_frame": _smooth_walk(rng, 1),
        "longer_than_max_len": longer,
        "no_hands": no_hands,
        "undetected_frames": undetected,
    }


def compare_scores(
    variant: str, input_name: str, expected: np.ndarray, actual: np.ndarray, tolerance: float
) -> ParityResult:
    """Compare one pair of score vectors; raise :class:`ParityError` if they disagree.

    Passing needs finite scores of equal shape, ``max |expected - actual| <= tolerance`` and
    the same argmax -- except where Keras's best and the TFLite pick are themselves within
    ``tolerance`` of each other (a near tie that rounding may legitimately flip).
    """
    expected = np.asarray(expected, dtype=np.float64)
    actual = np.asarray(actual, dtype=np.float64)
    if expected.shape != actual.shape:
        raise ParityError(
            variant, input_name, f"output shape {actual.shape} != Keras {expected.shape}"
        )
    if not np.all(np.isfinite(expected)):
        raise ParityError(variant, input_name, "the Keras model itself gives non-finite scores")
    if not np.all(np.isfinite(actual)):
        raise ParityError(variant, input_name, "non-finite scores (NaN/inf) from TFLite")
    diff = float(np.max(np.abs(expected - actual))) if expected.size else 0.0
    k_arg, t_arg = int(np.argmax(expected)), int(np.argmax(actual))
    result = ParityResult(variant, input_name, 0, diff, k_arg, t_arg, float(tolerance))
    if diff > tolerance:
        raise ParityError(
            variant, input_name, f"max |score diff| {diff:.3g} exceeds tolerance {tolerance:.3g}"
        )
    if k_arg != t_arg and expected[k_arg] - expected[t_arg] > tolerance:
        raise ParityError(variant, input_name, f"argmax {t_arg} differs from Keras argmax {k_arg}")
    return result


def check_parity(
    keras_fn: Callable[[np.ndarray], np.ndarray],
    tflite_fn: Callable[[np.ndarray], np.ndarray],
    variant: str,
    inputs: Mapping[str, np.ndarray],
    tolerance: float,
    expected: Mapping[str, np.ndarray] | None = None,
) -> list[ParityResult]:
    """Run both models on every input and compare (see :func:`compare_scores`).

    Args:
        keras_fn: frames -> scores of the reference (Keras) model.
        tflite_fn: frames -> scores of the candidate (e.g. a :class:`TFLiteRunner`).
        variant: name used in messages.
        inputs: name -> raw video ``[T, 543, 3]``.
        tolerance: max allowed |score difference|.
        expected: precomputed Keras scores per input name (saves re-running Keras).

    Raises:
        ParityError: on the first disagreement, naming variant, input and error.
    """
    results = []
    for name, frames in inputs.items():
        want = expected[name] if expected is not None else keras_fn(frames)
        try:
            got = tflite_fn(frames)
        except Exception as exc:  # an interpreter failure is a parity failure, named as such
            raise ParityError(variant, name, f"TFLite run failed ({exc})") from exc
        res = compare_scores(variant, name, want, got, tolerance)
        results.append(
            ParityResult(
                res.variant,
                res.input_name,
                int(frames.shape[0]),
                res.max_abs_diff,
                res.keras_argmax,
                res.tflite_argmax,
                res.tolerance,
            )
        )
    return results
