"""Sign-independent statistics of raw landmark clips, to compare one data set with another.

:func:`sequence_statistics` summarises a set of raw MediaPipe-holistic clips (``[T, 543, 3]``,
NaN where a part was not detected) by how the signer is framed and detected, not by what is
signed: face size and position, hand size relative to the face, detection rates, frame-to-frame
jitter and pose points outside the image. It is used to calibrate the synthetic generator on
real Kaggle files (``bench/bench_realism.py``) and to compare landmarks extracted from videos
with the real Kaggle data.

All distances are in the normalised image coordinates of the files (x in image widths, y in
image heights), measured on x and y only.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from islr.landmarks import N_LANDMARKS, TYPE_OFFSETS

__all__ = ["FACE_WIDTH_POINTS", "NOSE_POINT", "STATISTICS", "sequence_statistics"]

#: Face-mesh points whose distance is the face width (the two sides of the face at cheek level).
FACE_WIDTH_POINTS = (234, 454)
#: Face-mesh point of the nose tip.
NOSE_POINT = 1

#: Every key :func:`sequence_statistics` returns, with its definition.
STATISTICS: dict[str, str] = {
    "face_width": "median over frames with a face of the distance between face points 234 and 454",
    "face_centre_spread_x": "p90 - p10 across clips of the clip's mean face centre x",
    "face_centre_spread_y": "p90 - p10 across clips of the clip's mean face centre y",
    "hand_to_face": "median over detected hands of the hand's bounding-box diagonal / the face "
    "width of its clip",
    "no_hand_frames": "fraction of frames in which neither hand is detected",
    "nose_jitter": "median over consecutive frame pairs with a face of the nose-tip displacement "
    "/ the face width of its clip",
    "pose_outside": "fraction of pose x and y coordinates (frames with a pose) outside [0, 1]",
    "face_detected": "fraction of frames with a face",
    "pose_detected": "fraction of frames with a pose",
    "any_hand_detected": "fraction of frames with at least one hand",
}

_FACE = slice(TYPE_OFFSETS["face"], TYPE_OFFSETS["face"] + 468)
_POSE = slice(TYPE_OFFSETS["pose"], TYPE_OFFSETS["pose"] + 33)
_HANDS = (
    slice(TYPE_OFFSETS["left_hand"], TYPE_OFFSETS["left_hand"] + 21),
    slice(TYPE_OFFSETS["right_hand"], TYPE_OFFSETS["right_hand"] + 21),
)


def _detected(part: np.ndarray) -> np.ndarray:
    """``[T]`` True where a part (``[T, K, 2]``) has any finite point in that frame."""
    return np.isfinite(part).all(axis=-1).any(axis=-1)


def _spread(values: list[float]) -> float:
    if not values:
        return float("nan")
    p10, p90 = np.percentile(values, [10, 90])
    return float(p90 - p10)


def _median(values: list[np.ndarray]) -> float:
    flat = np.concatenate(values) if values else np.empty(0)
    return float(np.median(flat)) if flat.size else float("nan")


def sequence_statistics(sequences: Iterable[np.ndarray]) -> dict[str, float]:
    """Sign-independent statistics of a set of raw clips.

    Args:
        sequences: clips as ``[T, 543, 3]`` arrays in the Kaggle row order (face 0-467, left
            hand, pose, right hand), NaN where a part was not detected (as
            :func:`islr.data.read_landmark_file` returns them). Any float dtype.

    Returns:
        ``{name: value}`` for every name of :data:`STATISTICS`:

        - ``face_width``: median, over all frames with a face, of the distance between face
          points 234 and 454 (the width of the face).
        - ``face_centre_spread_x`` / ``face_centre_spread_y``: each clip's face centre is the
          mean, over its frames with a face, of the mean of the 468 face points; the spread is
          the 90th minus the 10th percentile of these centres across clips (how differently
          signers are framed).
        - ``hand_to_face``: median, over every detected hand in every frame, of the diagonal
          of the hand's bounding box divided by its clip's median face width.
        - ``no_hand_frames``: fraction of all frames in which neither hand is detected.
        - ``nose_jitter``: median, over pairs of consecutive frames that both have a face, of
          the displacement of the nose tip (point 1) divided by the clip's median face width.
        - ``pose_outside``: fraction of the pose x and y coordinates, in frames with a pose,
          that lie outside [0, 1].
        - ``face_detected``, ``pose_detected``, ``any_hand_detected``: fraction of all frames
          with a face, a pose, at least one hand.

        A statistic with nothing to measure (e.g. no face anywhere) is NaN.

    Raises:
        ValueError: if a clip is not ``[T, 543, 3]``.
    """
    n_frames = n_face = n_pose = n_hand = 0
    widths: list[np.ndarray] = []
    centres: list[np.ndarray] = []
    hand_ratio: list[np.ndarray] = []
    jitter: list[np.ndarray] = []
    pose_out = pose_coords = 0
    for seq in sequences:
        seq = np.asarray(seq)
        if seq.ndim != 3 or seq.shape[1:] != (N_LANDMARKS, 3):
            raise ValueError(f"expected a [T, {N_LANDMARKS}, 3] clip, got shape {seq.shape}")
        xy = seq[:, :, :2].astype(np.float64)
        n_frames += len(xy)
        face = xy[:, _FACE]
        has_face = _detected(face)
        n_face += int(has_face.sum())
        a, b = FACE_WIDTH_POINTS
        width = np.linalg.norm(face[:, a] - face[:, b], axis=-1)
        width = width[has_face & np.isfinite(width)]
        widths.append(width)
        clip_width = float(np.median(width)) if width.size else float("nan")
        if has_face.any():
            centres.append(np.nanmean(face[has_face], axis=(0, 1)))
            nose = face[:, NOSE_POINT]
            step = np.linalg.norm(np.diff(nose, axis=0), axis=-1)
            jitter.append(step[np.isfinite(step)] / clip_width)
        pose = xy[:, _POSE]
        has_pose = _detected(pose)
        n_pose += int(has_pose.sum())
        coords = pose[has_pose]
        coords = coords[np.isfinite(coords)]
        pose_coords += coords.size
        pose_out += int(((coords < 0) | (coords > 1)).sum())
        any_hand = np.zeros(len(xy), dtype=bool)
        for hand_slice in _HANDS:
            hand = xy[:, hand_slice]
            has_hand = _detected(hand)
            any_hand |= has_hand
            if has_hand.any():
                pts = hand[has_hand]
                size = np.nanmax(pts, axis=1) - np.nanmin(pts, axis=1)
                hand_ratio.append(np.linalg.norm(size, axis=-1) / clip_width)
        n_hand += int(any_hand.sum())

    def fraction(count: int, total: int) -> float:
        return count / total if total else float("nan")

    centre_x = [float(c[0]) for c in centres]
    centre_y = [float(c[1]) for c in centres]
    hand_to_face = _median([r[np.isfinite(r)] for r in hand_ratio])
    return {
        "face_width": _median(widths),
        "face_centre_spread_x": _spread(centre_x),
        "face_centre_spread_y": _spread(centre_y),
        "hand_to_face": hand_to_face,
        "no_hand_frames": fraction(n_frames - n_hand, n_frames),
        "nose_jitter": _median([j[np.isfinite(j)] for j in jitter]),
        "pose_outside": fraction(pose_out, pose_coords),
        "face_detected": fraction(n_face, n_frames),
        "pose_detected": fraction(n_pose, n_frames),
        "any_hand_detected": fraction(n_hand, n_frames),
    }
