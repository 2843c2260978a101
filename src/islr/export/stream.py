"""Live prediction: the current top signs over a sliding window of a camera or video stream."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from islr.data.video import HolisticSettings, HolisticStream
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
    show: bool = False,
    record: str | Path | None = None,
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
        show: draw the frames, landmarks and current top sign in a window (needs a GUI build
            of OpenCV in the extraction environment).
        record: write those annotated frames to this video file (works headless).
    """
    if window < 1 or every < 1:
        raise ValueError(f"window and every must be >= 1, got {window} and {every}")
    recent: deque[np.ndarray] = deque(maxlen=window)
    seen = 0
    with HolisticStream(source, settings, show=show, record=record) as stream:
        for number, frame in stream:
            recent.append(frame)
            seen += 1
            if seen % every:
                continue
            clip = np.stack(recent)
            if np.isnan(clip[:, _HANDS]).all():
                stream.caption("")
                yield StreamPrediction(number, len(recent), [])
                continue
            top = top_signs(predictor, clip, names, top_k)
            stream.caption(f"{top[0][0]} {top[0][2]:.2f}")
            yield StreamPrediction(number, len(recent), top)
