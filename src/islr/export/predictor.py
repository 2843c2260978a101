"""The model of a prediction and its calibration: :class:`Predictor` and :func:`load_predictor`.

A predictor runs an exported (``.tflite``, ``model.keras``) or trained (``best.keras``) model on
one clip and turns its scores into probabilities calibrated with the temperature of
``calibration.json`` beside the model (:mod:`islr.train.calibration`: the training run fits
it, the export copies it); its ``rejection_threshold`` says below which top probability a clip
is "no sign".
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from islr.export.inference import (
    build_inference_model,
    is_inference_model,
    load_network,
    run_keras,
)
from islr.export.tflite import TFLiteRunner
from islr.run_layout import CALIBRATION, CHECKPOINT, INFERENCE_KERAS, ExportLayout, RunLayout
from islr.train.calibration import Calibration, apply_temperature, read_calibration

__all__ = [
    "Predictor",
    "calibrated_probabilities",
    "find_calibration",
    "has_landmarks",
    "load_predictor",
    "to_probabilities",
]


class Predictor:
    """A raw-frame model, ``.tflite`` or Keras: ``predictor(frames [T, 543, 3]) -> scores [C]``,
    with its calibration.

    ``predictor(frames)`` returns the model's own scores (logits, or probabilities for an
    export made with ``export.output=probabilities``); :meth:`probabilities` the calibrated
    probabilities ``softmax(logits / temperature)``, which the top-k, the stream and spotting
    use. Accept a clip when ``probabilities(frames).max() >= rejection_threshold``.

    Attributes:
        path: where the model came from.
        kind: ``"tflite"`` or ``"keras"``.
        num_classes: length of the score vector.
        calibration: the :class:`~islr.train.calibration.Calibration` read from
            ``calibration.json`` beside the model (``None``: uncalibrated).
        calibration_path: that file (``None``: uncalibrated).
        temperature: its temperature (``1.0`` when uncalibrated: the plain softmax).
        rejection_threshold: its threshold on the calibrated top probability, chosen on the
            validation fold for ``calibration.target_precision``; ``None`` when uncalibrated
            (then nothing is rejected unless the caller sets a threshold).
    """

    def __init__(
        self,
        path: Path,
        kind: str,
        fn,
        num_classes: int,
        calibration: Calibration | None = None,
        calibration_path: Path | None = None,
    ) -> None:
        self.path = path
        self.kind = kind
        self._fn = fn
        self.num_classes = num_classes
        self.calibration = calibration
        self.calibration_path = calibration_path

    @property
    def temperature(self) -> float:
        """The calibration's temperature, ``1.0`` without one."""
        return 1.0 if self.calibration is None else self.calibration.temperature

    @property
    def rejection_threshold(self) -> float | None:
        """The calibrated rejection threshold, ``None`` without a calibration."""
        return None if self.calibration is None else self.calibration.threshold

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        return self._fn(frames)

    def calibrate(self, scores: np.ndarray) -> np.ndarray:
        """Calibrated probabilities ``[C]`` from the model's scores (logits or probabilities)."""
        return calibrated_probabilities(scores, self.temperature)

    def probabilities(self, frames: np.ndarray) -> np.ndarray:
        """Calibrated probabilities ``[C]`` of one clip ``[T, 543, 3]``."""
        return self.calibrate(self(frames))


def find_calibration(model: str | Path) -> Path | None:
    """``calibration.json`` of a model: in its directory (an export, a run directory), or the
    run directory of a ``checkpoints/*.keras``; ``None`` if there is none."""
    path = Path(model)
    folder = path if path.is_dir() else path.parent
    candidates = [folder / CALIBRATION]
    if not path.is_dir() and folder.name == CHECKPOINT.parent.name:
        candidates.append(RunLayout(folder.parent).calibration)
    return next((c for c in candidates if c.is_file()), None)


def load_predictor(model: str | Path, num_threads: int | None = 1) -> Predictor:
    """Load a model for prediction.

    ``model`` may be a ``.tflite`` file, a ``.keras`` inference model (``model.keras`` of an
    export) or network (wrapped with :func:`build_inference_model`), an export directory
    (its ``model.keras``) or a training run directory (its ``checkpoints/best.keras``). The
    calibration is read from ``calibration.json`` beside it (:func:`find_calibration`).

    Raises:
        FileNotFoundError: no model there.
        ValueError: not a model, or an unreadable ``calibration.json`` (naming the file).
    """
    path = Path(model)
    if path.is_dir():
        if ExportLayout(path).inference_keras.is_file():
            path = ExportLayout(path).inference_keras
        elif RunLayout(path).best.is_file():
            path = RunLayout(path).best
        else:
            raise FileNotFoundError(
                f"{path}: directory holds neither {INFERENCE_KERAS} (export) nor {CHECKPOINT} (run)"
            )
    if path.suffix not in (".tflite", ".keras"):
        raise ValueError(
            f"{path}: expected a .tflite or .keras model, an export or a run directory"
        )
    calibration_path = find_calibration(path)
    calibration = None if calibration_path is None else read_calibration(calibration_path)
    if path.suffix == ".tflite":
        runner = TFLiteRunner(path, num_threads=num_threads)
        out = runner.interpreter.get_signature_runner("serving_default").get_output_details()
        num_classes = int(next(iter(out.values()))["shape"][-1])
        return Predictor(path, "tflite", runner, num_classes, calibration, calibration_path)
    net = load_network(path)
    if is_inference_model(net):
        inference = net
    else:  # a run's network: its logits (calibrated_probabilities turns them into probabilities)
        inference = build_inference_model([net], max_len=None, output="logits")
    return Predictor(
        path,
        "keras",
        lambda f: run_keras(inference, f),
        int(inference.output_shape[-1]),
        calibration,
        calibration_path,
    )


def _is_distribution(scores: np.ndarray) -> bool:
    return bool(np.all(scores >= 0) and np.all(scores <= 1) and abs(scores.sum() - 1.0) < 1e-3)


def to_probabilities(scores: np.ndarray) -> np.ndarray:
    """Softmax of logits; scores that already form a distribution are returned unchanged."""
    scores = np.asarray(scores, dtype=np.float64)
    if _is_distribution(scores):
        return scores  # exported with output="probabilities"
    shifted = np.exp(scores - scores.max())
    return shifted / shifted.sum()


def calibrated_probabilities(scores: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(logits / temperature)`` of a model's scores ``[C]``.

    Scores that already form a distribution (``export.output=probabilities``) are
    ``softmax(logits)``; their log is the logits up to a constant, which the softmax ignores.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if temperature == 1.0:
        return to_probabilities(scores)
    if _is_distribution(scores):
        with np.errstate(divide="ignore"):
            scores = np.log(scores)  # a 0 becomes -inf: it stays 0
    return apply_temperature(scores, temperature)


def has_landmarks(frames: np.ndarray) -> bool:
    """Whether any landmark of ``frames [T, 543, 3]`` was detected (a clip of NaN only has
    nothing to classify: it is "no sign" whatever the model says)."""
    return bool(np.isfinite(frames).any())
