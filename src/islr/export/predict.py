"""Predict signs for landmark parquet files with an exported (``.tflite``) or Keras model.

Probabilities are calibrated (:class:`~islr.export.predictor.Predictor`, which this module
re-exports with :func:`load_predictor`), and a clip whose calibrated top probability is below
the rejection threshold is "no sign".
"""

from __future__ import annotations

import csv
import logging
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from islr.data.reader import LandmarkFileError, read_landmark_file, read_sign_map
from islr.data.video import HolisticSettings, ensure_python, extract_clips, is_video
from islr.export.predictor import (
    Predictor,
    calibrated_probabilities,
    find_calibration,
    has_landmarks,
    load_predictor,
    to_probabilities,
)
from islr.export.sign_map import find_sign_map

log = logging.getLogger(__name__)

NO_SIGN = "no sign"
"""What ``islr-predict`` prints (and writes in CSV) for a rejected clip."""


@dataclass
class FilePrediction:
    """Top-k signs for one file: ``top`` = [(sign, class index, probability)], best first
    (calibrated probabilities); ``rejected`` says why the clip is no sign (``None``: accepted).
    """

    path: str
    frames: int
    top: list[tuple[str, int, float]]
    rejected: str | None = None

    @property
    def sign(self) -> str | None:
        """The predicted sign, ``None`` when the clip is rejected (no sign)."""
        return None if self.rejected else self.top[0][0]

    @property
    def confidence(self) -> float:
        """The calibrated probability of the best sign."""
        return self.top[0][2]


@dataclass
class PredictionRun:
    """Results of :func:`predict_files`: the predictions, the files that failed (path, why),
    and the threshold clips were rejected below (``None``: none rejected for confidence)."""

    predictions: list[FilePrediction] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    threshold: float | None = None

    @property
    def rejected(self) -> list[FilePrediction]:
        """The predictions that are no sign."""
        return [p for p in self.predictions if p.rejected]

    def write_csv(self, path: str | Path) -> None:
        """One row per (file, rank): ``path, rank, sign, class_index, probability`` and the
        file's outcome, ``prediction`` (its sign, or ``no sign``) and ``confidence`` (the
        calibrated probability of its best sign)."""
        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(
                ["path", "rank", "sign", "class_index", "probability", "prediction", "confidence"]
            )
            for pred in self.predictions:
                outcome = pred.sign or NO_SIGN
                for rank, (sign, index, prob) in enumerate(pred.top, start=1):
                    writer.writerow(
                        [
                            pred.path,
                            rank,
                            sign,
                            index,
                            f"{prob:.6f}",
                            outcome,
                            f"{pred.confidence:.6f}",
                        ]
                    )


def collect_inputs(
    inputs: Iterable[str | Path],
) -> tuple[list[Path], list[Path], list[tuple[str, str]]]:
    """Landmark files and videos under ``inputs`` (directories searched recursively).

    Returns:
        (parquet files, video files, failures as (path, why)); a file given by name that is not
        a video counts as a landmark file (the reader then says what is wrong with it).
    """
    files: list[Path] = []
    videos: list[Path] = []
    failures: list[tuple[str, str]] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file())
            parquet = [p for p in found if p.suffix == ".parquet"]
            clips = [p for p in found if is_video(p)]
            if not parquet and not clips:
                failures.append((str(path), "directory holds no .parquet or video files"))
            files.extend(parquet)
            videos.extend(clips)
        elif path.is_file():
            (videos if is_video(path) else files).append(path)
        else:
            failures.append((str(path), "no such file or directory"))
    return files, videos, failures


def sign_names(predictor: Predictor, sign_map: str | Path | None = None) -> list[str]:
    """Class index -> sign name for ``predictor`` (``sign_map``, else the map beside it)."""
    where = sign_map if sign_map is not None else find_sign_map(predictor.path)
    if where is None:
        log.warning("no sign map beside %s; naming classes by index", predictor.path)
        return [f"class_{i}" for i in range(predictor.num_classes)]
    mapping = read_sign_map(where)
    if len(mapping) != predictor.num_classes:
        raise ValueError(
            f"sign map {where} has {len(mapping)} signs but {predictor.path} outputs "
            f"{predictor.num_classes} classes"
        )
    names = [""] * len(mapping)
    for sign, index in mapping.items():
        names[index] = sign
    return names


def top_signs(
    predictor: Predictor, frames: np.ndarray, names: Sequence[str], top_k: int
) -> list[tuple[str, int, float]]:
    """The ``top_k`` (sign, class index, calibrated probability) of one clip ``[T, 543, 3]``,
    best first."""
    probs = predictor.probabilities(frames)
    order = np.argsort(-probs, kind="stable")[:top_k]
    return [(names[i], int(i), float(probs[i])) for i in order]


def predict_files(
    model: str | Path | Predictor,
    inputs: Sequence[str | Path],
    *,
    top_k: int = 5,
    sign_map: str | Path | None = None,
    progress: bool | None = None,
    video_settings: HolisticSettings | None = None,
    video_workers: int | None = 1,
    min_confidence: float | None = None,
) -> PredictionRun:
    """Top-k signs with calibrated probabilities for every parquet file and video in ``inputs``.

    A clip is rejected (no sign, :attr:`FilePrediction.rejected`) when its top probability is
    below ``min_confidence``, else below the model's calibrated rejection threshold (none
    without ``calibration.json``), or when it holds no landmark at all.

    Videos are turned into landmarks with MediaPipe Holistic first (as ``islr-extract`` does).
    A file that cannot be read (:class:`~islr.data.LandmarkFileError`), a video that yields no
    landmarks, or a clip that cannot be predicted is logged, recorded in ``failures`` and
    skipped; the rest are still predicted.

    Args:
        model: see :func:`load_predictor`, or a loaded :class:`Predictor`.
        inputs: parquet files, videos and/or directories (searched recursively).
        top_k: signs listed per file.
        sign_map: sign map JSON; default: the one beside the model.
        progress: show a progress bar (default: when stderr is a terminal).
        video_settings: how frames are taken from videos (stride, mirroring, ...).
        video_workers: extraction processes for videos.
        min_confidence: the rejection threshold (0-1); default: the model's calibrated one.

    Raises:
        ExtractionEnvironmentError: videos were given but MediaPipe's environment is missing.
    """
    if top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    if min_confidence is not None and not 0 <= min_confidence <= 1:
        raise ValueError(f"min_confidence must be in [0, 1], got {min_confidence}")
    predictor = model if isinstance(model, Predictor) else load_predictor(model)
    names = sign_names(predictor, sign_map)
    files, videos, failures = collect_inputs(inputs)
    if videos:
        ensure_python()  # before any work: a missing environment is one clear error
    threshold = predictor.rejection_threshold if min_confidence is None else min_confidence
    run = PredictionRun(failures=list(failures), threshold=threshold)
    for path, why in failures:
        log.warning("skipped %s: %s", path, why)
    show = sys.stderr.isatty() if progress is None else progress
    for path in tqdm(files, desc="predict", unit="file", disable=not show):
        try:
            frames = read_landmark_file(path)
        except LandmarkFileError as exc:
            log.warning("skipped %s", exc)
            run.failures.append((str(path), exc.problem))
            continue
        except Exception as exc:  # a reader bug or odd file must not stop the batch either
            why = f"could not be read ({type(exc).__name__}: {exc})"
            log.warning("skipped %s: %s", path, why)
            run.failures.append((str(path), why))
            continue
        _predict_one(run, predictor, str(path), frames, names, top_k)
    if videos:
        clips = extract_clips(videos, video_settings, workers=video_workers)
        for clip in tqdm(clips, total=len(videos), desc="videos", unit="clip", disable=not show):
            if clip.error is not None:
                log.warning("skipped %s: %s", clip.video, clip.error)
                run.failures.append((str(clip.video), clip.error))
                continue
            assert clip.frames is not None
            _predict_one(run, predictor, str(clip.video), clip.frames, names, top_k)
    return run


def _predict_one(
    run: PredictionRun,
    predictor: Predictor,
    path: str,
    frames: np.ndarray,
    names: Sequence[str],
    top_k: int,
) -> None:
    try:
        top = top_signs(predictor, frames, names, top_k)
    except Exception as exc:  # one odd file must not stop a batch of thousands
        log.warning("skipped %s: prediction failed (%s)", path, exc)
        run.failures.append((path, f"prediction failed ({exc})"))
        return
    rejected = None
    if not has_landmarks(frames):
        rejected = "no landmarks"
    elif run.threshold is not None and top[0][2] < run.threshold:
        rejected = f"confidence {top[0][2]:.3f} < {run.threshold:.3f}"
    run.predictions.append(FilePrediction(path, int(frames.shape[0]), top, rejected))


__all__ = [
    "NO_SIGN",
    "FilePrediction",
    "PredictionRun",
    "Predictor",
    "calibrated_probabilities",
    "collect_inputs",
    "find_calibration",
    "has_landmarks",
    "load_predictor",
    "predict_files",
    "sign_names",
    "to_probabilities",
    "top_signs",
]
