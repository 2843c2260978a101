"""Signing activity: which frames of a landmark stream ``[T, 543, 3]`` are someone signing.

The rule, stated once (every number is a field of :class:`ActivityRule`):

1. A frame is *raw-active* when a hand is in view (at least ``min_hand_points`` of its 21
   points detected) and the hands are moving: the mean hand speed over those of the last
   ``motion_window`` frames with a hand in view is at least ``min_speed``. Speed is how far a
   hand's centre moves from one frame to the next, divided by the body width (shoulder width,
   or the face width where the shoulders are not seen), so it does not depend on how far the
   signer sits from the camera. A hand that has just come into view counts as moving.
2. The *activity score* is an exponential moving average of raw activity with time constant
   ``smoothing`` frames. Hysteresis: a segment opens when the score reaches ``on_threshold`` and
   closes when it falls below ``off_threshold``.
3. A segment spans its first to its last raw-active frame (the start goes back to where the
   activity began, not where the smoothed score crossed the threshold). Segments separated by at
   most ``max_gap`` frames are merged; segments shorter than ``min_length`` frames are dropped.

Everything is causal: :class:`ActivitySegmenter` takes one frame at a time and reports a segment
once it is certain (``max_gap`` frames after its last activity), so a live stream and the same
frames read from a file give the same segments (:func:`active_segments` is the segmenter run
over a whole array).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from importlib import resources

import numpy as np

from islr.landmarks import LHAND, RHAND, TYPE_OFFSETS

__all__ = [
    "ActivityRule",
    "ActivitySegmenter",
    "active_segments",
    "frame_activity",
    "read_spot_values",
    "shipped_spot_values",
]

_HANDS = (np.array(LHAND), np.array(RHAND))
_SHOULDERS = (TYPE_OFFSETS["pose"] + 11, TYPE_OFFSETS["pose"] + 12)
_FACE_SIDES = (234, 454)


@dataclass(frozen=True)
class ActivityRule:
    """The signing-activity rule (see the module docstring); values: ``conf/spot/default.yaml``.

    Attributes:
        min_hand_points: detected points (of 21) for a hand to count as in view.
        min_speed: mean hand speed, in body widths per frame, for the hands to count as moving.
        motion_window: frames over which the hand speed is averaged.
        smoothing: time constant of the activity score's moving average, in frames.
        on_threshold: activity score (0-1) at which a segment opens.
        off_threshold: activity score (0-1) below which it closes (at most ``on_threshold``).
        min_length: shortest segment reported, in frames.
        max_gap: longest pause, in frames, inside one segment (shorter pauses are merged).
    """

    min_hand_points: int
    min_speed: float
    motion_window: int
    smoothing: float
    on_threshold: float
    off_threshold: float
    min_length: int
    max_gap: int

    def __post_init__(self) -> None:
        if not 1 <= self.min_hand_points <= 21:
            raise ValueError(f"min_hand_points must be in 1..21, got {self.min_hand_points}")
        if self.min_speed < 0 or self.motion_window < 1 or self.smoothing < 1:
            raise ValueError(
                "min_speed must be >= 0, motion_window and smoothing >= 1; got "
                f"{self.min_speed}, {self.motion_window}, {self.smoothing}"
            )
        if not 0 < self.off_threshold <= self.on_threshold <= 1:
            raise ValueError(
                "need 0 < off_threshold <= on_threshold <= 1, got "
                f"{self.off_threshold} and {self.on_threshold}"
            )
        if self.min_length < 1 or self.max_gap < 0:
            raise ValueError(
                f"min_length must be >= 1 and max_gap >= 0, got {self.min_length}, {self.max_gap}"
            )

    @classmethod
    def shipped(cls, **changes: float) -> ActivityRule:
        """The rule of ``conf/spot/default.yaml`` (its ``activity`` node), with ``changes``."""
        return cls(**{**shipped_spot_values()["activity"], **changes})

    def as_dict(self) -> dict[str, float]:
        """The rule's values by name (for reports)."""
        return asdict(self)


def read_spot_values(text: str, where: str = "spot config") -> dict:
    """A spot config (YAML ``text``, e.g. ``conf/spot/default.yaml``) checked against its schema
    (:class:`islr.config.schema.SpotConfig`), as a plain dict.

    Merged onto the schema as Hydra does with the file's defaults list, without Hydra's global
    state (this runs inside ``islr-train``'s export too).

    Raises:
        ValueError: naming ``where`` and the key, for an unknown key, a wrong type or a
            missing value.
    """
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from islr.config.schema import SpotConfig

    try:
        own = OmegaConf.create(text)
        own.pop("defaults", None)
        merged = OmegaConf.merge(OmegaConf.structured(SpotConfig), own)
        values = OmegaConf.to_container(merged, throw_on_missing=True)
    except OmegaConfBaseException as exc:
        key = getattr(exc, "full_key", None)
        message = str(exc).splitlines()[0]
        raise ValueError(f"{where}: {key}: {message}" if key else f"{where}: {message}") from exc
    assert isinstance(values, dict)
    return values


def shipped_spot_values() -> dict:
    """``conf/spot/default.yaml`` (it ships inside the package), see :func:`read_spot_values`."""
    where = resources.files("islr.conf") / "spot" / "default.yaml"
    return read_spot_values(where.read_text(), "conf/spot/default.yaml")


def _body_width(frame: np.ndarray) -> float:
    for a, b in (_SHOULDERS, _FACE_SIDES):
        dx, dy = (float(u) - float(v) for u, v in zip(frame[a, :2], frame[b, :2], strict=True))
        width = math.sqrt(dx * dx + dy * dy)
        if math.isfinite(width) and width > 1e-6:
            return width
    return math.nan


# The arithmetic below is float64, summed in frame and point order: web/app/activity.js repeats
# it operation for operation, so the page and Python find the same segments.
def _mean_point(points: np.ndarray) -> tuple[float, float]:
    x = y = 0.0
    for px, py in points.tolist():
        x += px
        y += py
    return x / len(points), y / len(points)


def _mean_seen(speeds: list[float]) -> float:
    total, count = 0.0, 0
    for v in speeds:  # not sum(): Python's sum of floats is compensated, JS's loop is not
        if not math.isnan(v):
            total += v
            count += 1
    return total / count  # the frame just pushed has a hand in view


def frame_activity(frames: np.ndarray, rule: ActivityRule) -> np.ndarray:
    """Raw activity (step 1 of the rule) of every frame of ``frames [T, 543, 3]``: bool ``[T]``."""
    segmenter = ActivitySegmenter(rule)
    return np.array([segmenter.push(f)[0] for f in frames], dtype=bool).reshape(-1)


class ActivitySegmenter:
    """The rule applied frame by frame: :meth:`push` each frame, :meth:`finish` at the end.

    Both return the segments that became certain, as ``(start_frame, end_frame)`` (inclusive,
    counted from the first frame pushed).
    """

    def __init__(self, rule: ActivityRule) -> None:
        self.rule = rule
        self._alpha = 1.0 / rule.smoothing
        self.frame = -1  # index of the last frame pushed
        self.score = 0.0
        self._width = math.nan  # last known body width
        self._centres: list[tuple[float, float] | None] = [None, None]  # last hand centres
        self._speeds: list[float] = []  # the last motion_window speeds
        self._run_start = -1  # first raw-active frame after the last pause longer than max_gap
        self._last_active = -(10**9)
        self._open_start: int | None = None  # the segment being made (score above off)
        self._pending: tuple[int, int] | None = None  # closed, but a merge is still possible

    def push(self, frame: np.ndarray) -> tuple[bool, list[tuple[int, int]]]:
        """Add one frame ``[543, 3]``; returns (its raw activity, segments now certain)."""
        rule = self.rule
        self.frame += 1
        t = self.frame
        width = _body_width(frame)
        if math.isfinite(width):
            self._width = width
        in_view = False
        speed = 0.0
        for h, hand in enumerate(_HANDS):
            points = frame[hand, :2]
            seen = np.isfinite(points).all(axis=1)
            if int(seen.sum()) < rule.min_hand_points:
                self._centres[h] = None
                continue
            in_view = True
            centre = _mean_point(points[seen])
            previous = self._centres[h]
            if previous is None:
                speed = max(speed, rule.min_speed)  # just came into view
            elif math.isfinite(self._width):
                dx, dy = centre[0] - previous[0], centre[1] - previous[1]
                speed = max(speed, math.sqrt(dx * dx + dy * dy) / self._width)
            self._centres[h] = centre
        self._speeds.append(speed if in_view else math.nan)
        del self._speeds[: -rule.motion_window]
        # averaged over the frames with a hand in view: a hand coming back is not slowed down
        # by the frames it was away
        active = in_view and _mean_seen(self._speeds) >= rule.min_speed
        self.score += self._alpha * (float(active) - self.score)
        if active:
            if t - self._last_active - 1 > rule.max_gap:
                self._run_start = t
            self._last_active = t

        done: list[tuple[int, int]] = []
        if self._open_start is None and self.score >= rule.on_threshold:
            start = self._run_start
            if self._pending is not None and start - self._pending[1] - 1 <= rule.max_gap:
                start = min(start, self._pending[0])  # resumes the pending segment
            else:
                done += self._flush()
            self._pending = None
            self._open_start = start
        elif self._open_start is not None and self.score < rule.off_threshold:
            self._pending = (self._open_start, self._last_active)
            self._open_start = None
        if self._pending is not None and t - self._last_active > rule.max_gap:
            done += self._flush()
        return active, done

    def finish(self) -> list[tuple[int, int]]:
        """End of the stream: the segments still open or pending."""
        if self._open_start is not None:
            self._pending = (self._open_start, self._last_active)
            self._open_start = None
        return self._flush()

    @property
    def earliest_needed(self) -> int:
        """The first frame a segment not yet reported can start at (frames before it can go)."""
        candidates = [self.frame + 1]
        if self._run_start >= 0 and self.frame - self._last_active <= self.rule.max_gap:
            candidates.append(self._run_start)  # a run that may still open a segment
        if self._open_start is not None:
            candidates.append(self._open_start)
        if self._pending is not None:
            candidates.append(self._pending[0])
        return max(0, min(candidates))

    def _flush(self) -> list[tuple[int, int]]:
        pending, self._pending = self._pending, None
        if pending is None or pending[1] - pending[0] + 1 < self.rule.min_length:
            return []
        return [pending]


def active_segments(
    frames: np.ndarray | Iterable[np.ndarray], rule: ActivityRule
) -> list[tuple[int, int]]:
    """The segments ``(start_frame, end_frame)`` (inclusive) of signing in ``frames``."""
    segmenter = ActivitySegmenter(rule)
    segments: list[tuple[int, int]] = []
    for frame in frames:
        segments += segmenter.push(frame)[1]
    return segments + segmenter.finish()
