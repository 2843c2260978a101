"""Evaluation of sign spotting on stitched real streams with known boundaries.

A stream is real clips of signs, one after another, with real rest frames between them: frames
of the same signer's recordings with the hands removed (set to NaN, as MediaPipe reports a hand
out of view). The clips' places in the stream are the ground truth.

A predicted segment counts as a hit when its sign is right and it overlaps a true segment by at
least ``min_overlap`` of both lengths (each true and each predicted segment is matched at most
once). The sliding-window baseline (what ``islr-predict --stream`` prints without ``--spot``) is
turned into segments by joining consecutive windows with the same top sign.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from islr.export.predict import Predictor, top_signs
from islr.export.spot import SignSegment
from islr.landmarks import LHAND, RHAND

__all__ = [
    "SpotScores",
    "TrueSegment",
    "random_stream",
    "rest_frames",
    "score_segments",
    "sliding_window_segments",
    "stitch_stream",
]

_HANDS = np.array(LHAND + RHAND)


@dataclass(frozen=True)
class TrueSegment:
    """Where a clip of ``sign`` lies in a stitched stream (inclusive frames)."""

    start_frame: int
    end_frame: int
    sign: str


def rest_frames(recording: np.ndarray, length: int, offset: int = 0) -> np.ndarray:
    """``length`` real frames of ``recording [T, 543, 3]`` (from ``offset``, cycling) with both
    hands removed: the signer's face and body, no hand in view."""
    index = (offset + np.arange(length)) % len(recording)
    rest = recording[index].copy()
    rest[:, _HANDS] = np.nan
    return rest


def stitch_stream(
    clips: Sequence[tuple[str, np.ndarray]], rests: Sequence[np.ndarray]
) -> tuple[np.ndarray, list[TrueSegment], np.ndarray]:
    """``rests[0], clip 0, rests[1], clip 1, ..., rests[n]`` as one stream.

    Returns:
        (frames ``[T, 543, 3]``, the clips' true segments, a bool ``[T]`` mask of rest frames).
    """
    if len(rests) != len(clips) + 1:
        raise ValueError(f"need {len(clips) + 1} rests for {len(clips)} clips, got {len(rests)}")
    parts, truth, rest_mask = [rests[0]], [], [np.ones(len(rests[0]), bool)]
    at = len(rests[0])
    for (sign, clip), rest in zip(clips, rests[1:], strict=True):
        truth.append(TrueSegment(at, at + len(clip) - 1, sign))
        parts += [clip, rest]
        rest_mask += [np.zeros(len(clip), bool), np.ones(len(rest), bool)]
        at += len(clip) + len(rest)
    return np.concatenate(parts).astype(np.float32), truth, np.concatenate(rest_mask)


def random_stream(
    pool: Sequence[tuple[str, np.ndarray]],
    recording: np.ndarray,
    rng: np.random.Generator,
    clips: int,
    rest_range: tuple[int, int],
) -> tuple[np.ndarray, list[TrueSegment], np.ndarray]:
    """A stream of ``clips`` clips drawn from ``pool`` (sign, frames; with replacement), with
    rests of ``rest_range`` frames (inclusive) taken at random places of ``recording`` (the
    signer's frames, hands removed): :func:`stitch_stream`'s output."""
    picked = [pool[i] for i in rng.choice(len(pool), clips)]
    rests = [
        rest_frames(
            recording,
            int(rng.integers(rest_range[0], rest_range[1] + 1)),
            int(rng.integers(len(recording))),
        )
        for _ in range(len(picked) + 1)
    ]
    return stitch_stream(picked, rests)


def sliding_window_segments(
    frames: np.ndarray, predictor: Predictor, names: Sequence[str], *, window: int, every: int
) -> list[SignSegment]:
    """The baseline: top-1 over the last ``window`` frames every ``every`` frames (nothing when
    no hand is in the window, as ``predict_stream``), each holding until the next; consecutive
    equal signs joined."""
    segments: list[SignSegment] = []
    probs: list[float] = []
    for end in range(every - 1, len(frames), every):
        clip = frames[max(0, end - window + 1) : end + 1]
        sign = None
        if not np.isnan(clip[:, _HANDS]).all():
            sign, _, prob = top_signs(predictor, clip, names, 1)[0]
        start = end - every + 1
        if sign is not None and segments and segments[-1].sign == sign:
            probs.append(prob)
            last = segments[-1]
            segments[-1] = SignSegment(last.start_frame, end, sign, float(np.mean(probs)))
        elif sign is not None:
            probs = [prob]
            segments.append(SignSegment(start, end, sign, prob))
        else:
            segments.append(SignSegment(start, end, None, 0.0))  # a pause splits runs
    return [s for s in segments if s.sign is not None]


@dataclass(frozen=True)
class SpotScores:
    """Segment scores of one method on a set of streams.

    Attributes:
        true_segments / predicted / hits: counts.
        precision / recall / f1: segment-level.
        boundary_error: mean |start error| and |end error| over the hits, in frames.
        false_alarm_rate: fraction of rest frames inside a predicted (named) segment.
    """

    true_segments: int
    predicted: int
    hits: int
    precision: float
    recall: float
    f1: float
    boundary_error: float
    false_alarm_rate: float


def score_segments(
    streams: Sequence[tuple[list[SignSegment], list[TrueSegment], np.ndarray]],
    min_overlap: float = 0.5,
) -> SpotScores:
    """Scores over ``streams`` of (predicted segments, true segments, rest mask)."""
    n_true = n_pred = hits = 0
    errors: list[float] = []
    alarms = rest = 0
    for predicted, truth, rest_mask in streams:
        named = [p for p in predicted if p.sign is not None]
        n_true += len(truth)
        n_pred += len(named)
        covered = np.zeros(len(rest_mask), bool)
        for p in named:
            covered[p.start_frame : p.end_frame + 1] = True
        alarms += int((covered & rest_mask).sum())
        rest += int(rest_mask.sum())
        used: set[int] = set()
        for t in truth:
            t_len = t.end_frame - t.start_frame + 1
            for i, p in enumerate(named):
                inter = min(t.end_frame, p.end_frame) - max(t.start_frame, p.start_frame) + 1
                p_len = p.end_frame - p.start_frame + 1
                if i in used or p.sign != t.sign or inter < min_overlap * max(t_len, p_len):
                    continue
                used.add(i)
                hits += 1
                errors += [abs(p.start_frame - t.start_frame), abs(p.end_frame - t.end_frame)]
                break
    precision = hits / n_pred if n_pred else 0.0
    recall = hits / n_true if n_true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return SpotScores(
        true_segments=n_true,
        predicted=n_pred,
        hits=hits,
        precision=precision,
        recall=recall,
        f1=f1,
        boundary_error=float(np.mean(errors)) if errors else float("nan"),
        false_alarm_rate=alarms / rest if rest else 0.0,
    )
