"""The synthetic hands: a small kinematic model, hand-shape prototypes and hand placement."""

from __future__ import annotations

import numpy as np

# Hand landmarks per body unit of the hand model: a real hand's bounding-box diagonal is about
# 1.3 face widths.
HAND_SCALE = 2.7

# The hand model is in hand units (~ body units): wrist at the origin, fingers up.
# MCP (knuckle) positions for a right hand seen palm-forward: the thumb is towards image right.
_FINGER_BASE = np.array([[0.13, -0.42], [0.0, -0.45], [-0.12, -0.42], [-0.23, -0.36]])
_FINGER_SEGMENTS = np.array(
    [[0.24, 0.14, 0.11], [0.27, 0.16, 0.11], [0.25, 0.15, 0.11], [0.19, 0.11, 0.10]]
)
_FINGER_SPREAD_DIR = np.array([0.12, 0.0, -0.12, -0.25])
_THUMB_BASE = np.array([0.12, -0.10])
_THUMB_SEGMENTS = np.array([0.17, 0.15, 0.12])

# Hand-shape prototypes: [thumb flex, thumb abduction, index, middle, ring, pinky flex, spread]
# (loosely after common ASL hand shapes: A, B, 1, 5, C, O, V, Y, L, I, 3, W, X, S, flat-O, bent-B).
HANDSHAPES = np.array(
    [
        [0.3, 0.1, 1.0, 1.0, 1.0, 1.0, 0.0],
        [0.8, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        [0.8, 0.2, 0.0, 1.0, 1.0, 1.0, 0.2],
        [0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0],
        [0.3, 0.7, 0.45, 0.45, 0.45, 0.45, 0.2],
        [0.6, 0.5, 0.7, 0.7, 0.7, 0.7, 0.0],
        [0.8, 0.2, 0.0, 0.0, 1.0, 1.0, 1.0],
        [0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 1.0],
        [0.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.3],
        [0.8, 0.1, 1.0, 1.0, 1.0, 0.0, 0.5],
        [0.0, 0.9, 0.0, 0.0, 1.0, 1.0, 0.8],
        [0.8, 0.2, 0.0, 0.0, 0.0, 1.0, 0.8],
        [0.8, 0.2, 0.55, 1.0, 1.0, 1.0, 0.0],
        [1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0],
        [0.7, 0.4, 0.55, 0.55, 0.55, 0.55, 0.0],
        [0.5, 0.3, 0.35, 0.35, 0.35, 0.35, 0.0],
    ]
)


def _hand_shape_points(shape: np.ndarray) -> np.ndarray:
    """Hand landmarks for hand-shape parameters ``shape [T, 7]`` -> ``[T, 21, 3]`` (right hand)."""
    n = shape.shape[0]
    out = np.zeros((n, 21, 3))
    thumb_flex, thumb_abd, spread = shape[:, 0], shape[:, 1], shape[:, 6]
    # Fingers: flex bends each joint towards the palm (the camera is at -z), spread fans them.
    for f in range(4):
        flex = shape[:, 2 + f]
        direction = _FINGER_SPREAD_DIR[f] * (0.3 + spread)
        ux, uy = np.sin(direction), -np.cos(direction)
        pos = np.zeros((n, 3))
        pos[:, 0], pos[:, 1] = _FINGER_BASE[f, 0], _FINGER_BASE[f, 1]
        out[:, 5 + 4 * f] = pos
        angle = np.zeros(n)
        for j, (seg, gain) in enumerate(zip(_FINGER_SEGMENTS[f], (1.4, 1.7, 1.2), strict=True)):
            angle = angle + gain * flex
            along = seg * np.cos(angle)
            pos = pos + np.stack([ux * along, uy * along, -seg * np.sin(angle)], axis=1)
            out[:, 6 + 4 * f + j] = pos
    # Thumb: abduction swings it away from the palm side; flexion folds it across the palm.
    base_angle = 0.35 + 0.9 * thumb_abd - 0.9 * thumb_flex
    pos = np.zeros((n, 3))
    pos[:, 0], pos[:, 1] = _THUMB_BASE
    out[:, 1] = pos
    angle = base_angle
    for j, seg in enumerate(_THUMB_SEGMENTS):
        pos = pos + np.stack(
            [seg * np.sin(angle), -seg * np.cos(angle), -0.5 * seg * thumb_flex], axis=1
        )
        out[:, 2 + j] = pos
        angle = angle - 0.6 * thumb_flex
    return out


def _rotation(roll: np.ndarray, yaw: np.ndarray, pitch: np.ndarray) -> np.ndarray:
    """Rotation matrices ``[T, 3, 3]``: roll in the image plane, yaw about y, pitch about x."""
    cr, sr, cy, sy, cp, sp = (np.cos(roll), np.sin(roll), np.cos(yaw), np.sin(yaw),
                              np.cos(pitch), np.sin(pitch))  # fmt: skip
    one, zero = np.ones_like(roll), np.zeros_like(roll)
    rz = np.stack([cr, -sr, zero, sr, cr, zero, zero, zero, one], -1).reshape(-1, 3, 3)
    ry = np.stack([cy, zero, sy, zero, one, zero, -sy, zero, cy], -1).reshape(-1, 3, 3)
    rx = np.stack([one, zero, zero, zero, cp, -sp, zero, sp, cp], -1).reshape(-1, 3, 3)
    return rz @ ry @ rx


def place_hand(shape: np.ndarray, orient: np.ndarray, pos: np.ndarray, mirror: bool):
    local = _hand_shape_points(shape)
    rot = _rotation(orient[:, 0], orient[:, 1], orient[:, 2])
    pts = np.einsum("tij,tkj->tki", rot, local) * HAND_SCALE
    if mirror:
        pts[:, :, 0] *= -1
    # The sign location is where the palm centre goes, not the wrist.
    palm = pts[:, 9:10] * 0.5
    return pts - palm + np.concatenate([pos, np.zeros((len(pos), 1))], axis=1)[:, None, :]
