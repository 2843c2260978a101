"""The synthetic body: the 33 pose landmarks (with a two-segment arm) and whole-frame mirroring."""

from __future__ import annotations

import numpy as np

from islr.data.synthetic.face import FACE_MIRROR
from islr.landmarks import TYPE_OFFSETS

FACE_OFF = TYPE_OFFSETS["face"]
POSE_OFF = TYPE_OFFSETS["pose"]

_POSE_MIRROR = np.array([0, 4, 5, 6, 1, 2, 3, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15, 18, 17, 20,
                         19, 22, 21, 24, 23, 26, 25, 28, 27, 30, 29, 32, 31])  # fmt: skip


def mirror_frames(frames: np.ndarray) -> np.ndarray:
    """Mirror a whole frame about the face's vertical axis (x = 0 in body units)."""
    out = frames.copy()
    out[:, :, 0] *= -1
    # Swap face/pose sides so the mirrored face is a valid face again; hands were placed already.
    face = out[:, FACE_OFF : FACE_OFF + 468]
    face[:] = face[:, FACE_MIRROR]
    pose = out[:, POSE_OFF : POSE_OFF + 33]
    pose[:] = pose[:, _POSE_MIRROR]
    return out


def pose_points(face: np.ndarray, dom: np.ndarray, nd: np.ndarray, sway: np.ndarray) -> np.ndarray:
    """33 pose landmarks (right-handed layout: the subject's right side is image left)."""
    n = face.shape[0]
    pose = np.zeros((n, 33, 3))
    pose[:, 0] = face[:, 1]
    for i, (fi, dx) in enumerate(((133, 0), (159, 0), (33, 0))):
        pose[:, 4 + i] = face[:, fi] + [dx, 0, 0]
        pose[:, 1 + i] = face[:, FACE_MIRROR[fi]]
    body = np.array(
        [[0.85, -0.1], [-0.85, -0.1], [0.3, 0.6], [-0.3, 0.6], [1.55, 2.0], [-1.55, 2.0],
         [1.2, 6.8], [-1.2, 6.8], [1.3, 9.5], [-1.3, 9.5], [1.3, 12.5], [-1.3, 12.5],
         [1.3, 12.9], [-1.3, 12.9], [1.5, 13.0], [-1.5, 13.0]]
    )  # fmt: skip
    rows = [7, 8, 9, 10, 11, 12, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32]
    for r, xy in zip(rows, body, strict=True):
        pose[:, r, :2] = xy + (sway * (0.5 if r > 10 else 1.0))
    pose[:, 11:13, 2] = -0.3
    pose[:, 23:, 2] = 0.0
    # Wrists and hand points come from the hands (pose 16 = right wrist = dominant here).
    for wrist, elbow, shoulder, hand in ((16, 14, 12, dom), (15, 13, 11, nd)):
        pose[:, wrist] = hand[:, 0]
        pose[:, wrist + 2] = hand[:, 17]
        pose[:, wrist + 4] = hand[:, 5]
        pose[:, wrist + 6] = hand[:, 2]
        pose[:, elbow] = _elbow(pose[:, shoulder], hand[:, 0])
    return pose


def _elbow(shoulder: np.ndarray, wrist: np.ndarray) -> np.ndarray:
    """Elbow ``[T, 3]`` of a two-segment arm from shoulder to wrist, hanging down and outwards."""
    upper, fore = 3.0, 2.8  # body units
    vec = wrist[:, :2] - shoulder[:, :2]
    dist = np.clip(np.linalg.norm(vec, axis=1, keepdims=True), 0.5, upper + fore - 1e-3)
    unit = vec / np.maximum(np.linalg.norm(vec, axis=1, keepdims=True), 1e-9)
    along = (upper**2 - fore**2 + dist**2) / (2 * dist)
    across = np.sqrt(np.clip(upper**2 - along**2, 0, None))
    perp = np.stack([-unit[:, 1], unit[:, 0]], axis=1)
    # Of the two solutions take the lower one (y down), tipped outwards (away from the body).
    outwards = np.sign(shoulder[:, :1]) + (shoulder[:, :1] == 0)
    perp *= np.where(perp[:, 1:] + 0.3 * outwards * perp[:, :1] < 0, -1.0, 1.0)
    elbow = shoulder.copy()
    elbow[:, :2] += along * unit + across * perp
    return elbow
