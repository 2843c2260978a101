"""Live prediction: the current top signs over a sliding window of a camera or video stream."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from islr.data.video import HolisticSettings, stream_frames
from islr.export.predict import Predictor, top_signs
from islr.landmarks import LHAND, RHAND

__all__ = ["StreamPrediction", "predict_stream"]

_HANDS = np.array(LHAND + RHAND)


@dataclass
class StreamPrediction:
    """The prediction after frame ``frame`` over the last ``window`` frames.

    ``top`` is empty when no hand was seen in the window (nothing is being signed).
    """

    frame: int
    window: int
    top: list[tuple[str, int, float]]


def predict_stream(
    predictor: Predictor,
    source: str | int,
    names: Sequence[str],
    *,
    window: int = 64,
    every: int = 8,
    top_k: int = 3,
    settings: HolisticSettings | None = None,
) -> Iterator[StreamPrediction]:
    """Predict every ``every`` frames over the last ``window`` frames of ``source``.

    Args:
        predictor: a loaded model (:func:`~islr.export.predict.load_predictor`).
        source: a camera index (``0``) or a video file.
        names: class index -> sign.
        window: frames the model sees (a sign lasts about 1-3 s).
        every: frames between two predictions.
        top_k: signs per prediction.
        settings: Holistic settings (mirroring, model complexity; stride is ignored).
    """
    if window < 1 or every < 1:
        raise ValueError(f"window and every must be >= 1, got {window} and {every}")
    recent: deque[np.ndarray] = deque(maxlen=window)
    seen = 0
    for number, frame in stream_frames(source, settings):
        recent.append(frame)
        seen += 1
        if seen % every:
            continue
        clip = np.stack(recent)
        if np.isnan(clip[:, _HANDS]).all():
            yield StreamPrediction(number, len(recent), [])
            continue
        yield StreamPrediction(number, len(recent), top_signs(predictor, clip, names, top_k))
