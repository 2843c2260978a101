"""Sign spotting: the signs made in a long landmark stream, in order, with their frames.

The stream is cut into signing segments by the activity rule (:mod:`islr.export.activity`);
each segment is classified with the clip-level model (:func:`~islr.export.predict.top_signs`).
A segment longer than the model's window is classified in overlapping windows and runs of
windows naming the same sign are merged. A segment whose probability is below the rejection
threshold (:meth:`SpotSettings.threshold`: ``min_confidence``, else the model's calibrated
threshold) is "no sign": dropped from the result and counted.

The same :class:`Spotter` serves a file (:func:`spot_signs`) and a live camera or video
(:func:`spot_stream`), so both give the same segments for the same frames.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from islr.export.activity import ActivityRule, ActivitySegmenter, shipped_spot_values
from islr.export.predict import Predictor, top_signs

__all__ = [
    "SignSegment",
    "SpotSettings",
    "Spotter",
    "spot_frames",
    "spot_signs",
    "spot_stream",
    "write_segments",
]


@dataclass(frozen=True)
class SignSegment:
    """One spotted segment: frames ``start_frame..end_frame`` (inclusive, counted from the
    stream's first frame), its ``sign`` (``None``: no sign, below the rejection threshold) and the
    model's probability ``confidence`` of the best sign."""

    start_frame: int
    end_frame: int
    sign: str | None
    confidence: float

    def as_dict(self) -> dict[str, object]:
        """The fields by name (for CSV/JSON)."""
        return asdict(self)


@dataclass(frozen=True)
class SpotSettings:
    """How a stream is spotted; values: ``conf/spot/default.yaml``.

    Attributes:
        activity: the signing-activity rule.
        window: most frames the classifier sees at once.
        stride: frames between the windows of a segment longer than ``window``.
        min_confidence: probability (0-1) below which a segment is no sign; ``None``: the
            model's calibrated rejection threshold, else ``uncalibrated_min_confidence``.
        uncalibrated_min_confidence: the threshold for a model without calibration.
    """

    activity: ActivityRule
    window: int
    stride: int
    min_confidence: float | None
    uncalibrated_min_confidence: float

    def __post_init__(self) -> None:
        if self.window < 1 or self.stride < 1:
            raise ValueError(f"window and stride must be >= 1, got {self.window}, {self.stride}")
        for key in ("min_confidence", "uncalibrated_min_confidence"):
            value = getattr(self, key)
            if value is not None and not 0 <= value <= 1:
                raise ValueError(f"{key} must be in [0, 1], got {value}")

    @classmethod
    def shipped(cls, **changes: object) -> SpotSettings:
        """The settings of ``conf/spot/default.yaml``, with ``changes``."""
        values = shipped_spot_values()
        values["activity"] = ActivityRule(**values["activity"])
        return replace(cls(**values), **changes)

    def threshold(self, predictor: Predictor) -> float:
        """The probability below which a segment is no sign for ``predictor``'s model:
        ``min_confidence``, else the model's calibrated threshold, else the uncalibrated one."""
        if self.min_confidence is not None:
            return self.min_confidence
        calibrated = calibrated_threshold(predictor)
        return self.uncalibrated_min_confidence if calibrated is None else calibrated

    def as_dict(self) -> dict[str, object]:
        """The settings by name, the rule's as a nested dict (for reports and the web app)."""
        return asdict(self)


def calibrated_threshold(predictor: Predictor) -> float | None:
    """The rejection threshold of ``predictor``'s calibration (``None``: not calibrated)."""
    return getattr(predictor, "rejection_threshold", None)


class Spotter:
    """Spots signs frame by frame: :meth:`push` each frame ``[543, 3]``, :meth:`finish` at the end.

    Both return the segments that closed (no-sign ones too, with ``sign=None``, below
    ``threshold``); only the frames of a segment that may still be reported are kept.
    ``rejected`` counts the no-sign segments.
    """

    def __init__(self, predictor: Predictor, names: Sequence[str], settings: SpotSettings) -> None:
        self.predictor = predictor
        self.names = names
        self.settings = settings
        self.rejected = 0
        self.threshold = settings.threshold(predictor)
        self._segmenter = ActivitySegmenter(settings.activity)
        self._frames: list[np.ndarray] = []
        self._first = 0  # stream index of self._frames[0]

    @property
    def signing(self) -> bool:
        """Whether a segment is open now (for a live caption)."""
        return self._segmenter.score >= self.settings.activity.off_threshold

    def push(self, frame: np.ndarray) -> list[SignSegment]:
        """Add the next frame; returns the segments it closed."""
        self._frames.append(np.asarray(frame, dtype=np.float32))
        _, closed = self._segmenter.push(self._frames[-1])
        out = self._classify(closed)
        drop = self._segmenter.earliest_needed - self._first
        if drop > 0:
            del self._frames[:drop]
            self._first += drop
        return out

    def finish(self) -> list[SignSegment]:
        """End of the stream: the segments still open."""
        return self._classify(self._segmenter.finish())

    def _classify(self, spans: list[tuple[int, int]]) -> list[SignSegment]:
        out: list[SignSegment] = []
        for start, end in spans:
            clip = np.stack(self._frames[start - self._first : end - self._first + 1])
            for segment in self._windows(clip, start):
                if segment.confidence < self.threshold:
                    self.rejected += 1
                    segment = replace(segment, sign=None)
                out.append(segment)
        return out

    def _windows(self, clip: np.ndarray, offset: int) -> list[SignSegment]:
        """Classify ``clip`` (whole, or in windows merged by sign)."""
        window, stride = self.settings.window, self.settings.stride
        starts = list(range(0, max(len(clip) - window, 0) + 1, stride))
        if starts[-1] + window < len(clip):
            starts.append(len(clip) - window)  # the last window ends with the segment
        runs: list[list] = []  # [first frame, last frame, sign, probabilities]
        for s in starts:
            e = min(s + window, len(clip)) - 1
            sign, _, prob = top_signs(self.predictor, clip[s : e + 1], self.names, 1)[0]
            if runs and runs[-1][2] == sign:
                runs[-1][1] = e
                runs[-1][3].append(prob)
            else:
                if runs:  # two signs: split the overlap of their windows in the middle
                    middle = (s + runs[-1][1]) // 2
                    runs[-1][1], s = middle, middle + 1
                runs.append([s, e, sign, [prob]])
        return [
            SignSegment(offset + s, offset + e, sign, float(np.mean(probs)))
            for s, e, sign, probs in runs
        ]


def spot_frames(
    frames: Iterable[np.ndarray],
    predictor: Predictor,
    names: Sequence[str],
    settings: SpotSettings,
) -> Iterator[SignSegment]:
    """Segments (no-sign ones too) of ``frames``, each yielded as soon as it closes."""
    spotter = Spotter(predictor, names, settings)
    for frame in frames:
        yield from spotter.push(frame)
    yield from spotter.finish()


def spot_signs(
    frames: np.ndarray,
    predictor: Predictor,
    names: Sequence[str],
    *,
    settings: SpotSettings | None = None,
    min_confidence: float | None = None,
    include_rejected: bool = False,
) -> list[SignSegment]:
    """The signs made in ``frames [T, 543, 3]``, in order.

    Args:
        frames: a landmark stream (e.g. :func:`~islr.data.read_landmark_file` of a long file).
        predictor: the clip-level model (:func:`~islr.export.predict.load_predictor`).
        names: class index -> sign (:func:`~islr.export.predict.sign_names`).
        settings: default: :meth:`SpotSettings.shipped`.
        min_confidence: overrides ``settings.min_confidence``.
        include_rejected: also return the no-sign segments (``sign=None``).
    """
    frames = np.asarray(frames)
    if frames.ndim != 3 or frames.shape[1:] != (543, 3):
        raise ValueError(f"frames must be [T, 543, 3], got {list(frames.shape)}")
    settings = settings or SpotSettings.shipped()
    if min_confidence is not None:
        settings = replace(settings, min_confidence=min_confidence)
    found = spot_frames(frames, predictor, names, settings)
    return [s for s in found if include_rejected or s.sign is not None]


def spot_stream(
    predictor: Predictor,
    source: str | int,
    names: Sequence[str],
    settings: SpotSettings,
    *,
    video_settings=None,
    show: bool = False,
    record: str | Path | None = None,
) -> Iterator[SignSegment]:
    """:func:`spot_frames` over a camera index, a video file (MediaPipe Holistic) or a
    landmark parquet file, each segment yielded as it closes (no-sign ones too)."""
    if isinstance(source, str) and source.endswith(".parquet"):
        from islr.data.reader import read_landmark_file

        yield from spot_frames(read_landmark_file(source), predictor, names, settings)
        return
    from islr.data.video import HolisticStream

    spotter = Spotter(predictor, names, settings)
    caption = ""
    with HolisticStream(source, video_settings, show=show, record=record) as stream:
        for _, frame in stream:
            for segment in spotter.push(frame):
                caption = segment.sign or "(no sign)"
                yield segment
            stream.caption(f"{caption} ..." if spotter.signing else caption)
        yield from spotter.finish()


def write_segments(segments: Sequence[SignSegment], path: str | Path) -> None:
    """Write ``segments`` as ``.json`` (a list of objects) or ``.csv`` (one row each; an empty
    ``sign`` is no sign), chosen by the suffix of ``path``."""
    import csv
    import json

    path = Path(path)
    rows = [s.as_dict() for s in segments]
    if path.suffix == ".json":
        path.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    elif path.suffix == ".csv":
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, ["start_frame", "end_frame", "sign", "confidence"])
            writer.writeheader()
            for row in rows:
                writer.writerow({**row, "confidence": f"{row['confidence']:.6f}"})
    else:
        raise ValueError(f"{path}: segments are written as .csv or .json")
