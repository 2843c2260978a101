"""MediaPipe Holistic's named points and limbs, and where each lands in Kaggle's 543 rows.

Point names and connections are MediaPipe's (``PoseLandmark``, ``HandLandmark``,
``POSE_CONNECTIONS``, ``HAND_CONNECTIONS``; face points are named by their mesh index), which is
how ``.pose`` files name them. Face limbs are MediaPipe's face contours (lips, eyes, eyebrows,
oval), enough for a viewer to draw a face; the full mesh tessellation is not needed for that.
"""

from __future__ import annotations

from itertools import pairwise

from islr.landmarks import LANDMARK_TYPES, TYPE_OFFSETS

__all__ = [
    "COMPONENT_PARTS",
    "FACE_CONTOUR_LIMBS",
    "HAND_LIMBS",
    "HAND_POINTS",
    "POSE_LIMBS",
    "POSE_POINTS",
    "component_points",
    "kaggle_row",
]

POSE_POINTS: tuple[str, ...] = (
    "NOSE", "LEFT_EYE_INNER", "LEFT_EYE", "LEFT_EYE_OUTER", "RIGHT_EYE_INNER", "RIGHT_EYE",
    "RIGHT_EYE_OUTER", "LEFT_EAR", "RIGHT_EAR", "MOUTH_LEFT", "MOUTH_RIGHT", "LEFT_SHOULDER",
    "RIGHT_SHOULDER", "LEFT_ELBOW", "RIGHT_ELBOW", "LEFT_WRIST", "RIGHT_WRIST", "LEFT_PINKY",
    "RIGHT_PINKY", "LEFT_INDEX", "RIGHT_INDEX", "LEFT_THUMB", "RIGHT_THUMB", "LEFT_HIP",
    "RIGHT_HIP", "LEFT_KNEE", "RIGHT_KNEE", "LEFT_ANKLE", "RIGHT_ANKLE", "LEFT_HEEL",
    "RIGHT_HEEL", "LEFT_FOOT_INDEX", "RIGHT_FOOT_INDEX",
)  # fmt: skip
HAND_POINTS: tuple[str, ...] = (
    "WRIST", "THUMB_CMC", "THUMB_MCP", "THUMB_IP", "THUMB_TIP", "INDEX_FINGER_MCP",
    "INDEX_FINGER_PIP", "INDEX_FINGER_DIP", "INDEX_FINGER_TIP", "MIDDLE_FINGER_MCP",
    "MIDDLE_FINGER_PIP", "MIDDLE_FINGER_DIP", "MIDDLE_FINGER_TIP", "RING_FINGER_MCP",
    "RING_FINGER_PIP", "RING_FINGER_DIP", "RING_FINGER_TIP", "PINKY_MCP", "PINKY_PIP",
    "PINKY_DIP", "PINKY_TIP",
)  # fmt: skip
_FACE_COUNT = dict(LANDMARK_TYPES)["face"]  # 468: the mesh without the refined irises

POSE_LIMBS: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 2), (2, 3), (3, 7), (0, 4), (4, 5), (5, 6), (6, 8), (9, 10), (11, 12),
    (11, 13), (13, 15), (15, 17), (15, 19), (15, 21), (17, 19), (12, 14), (14, 16), (16, 18),
    (16, 20), (16, 22), (18, 20), (11, 23), (12, 24), (23, 24), (23, 25), (24, 26), (25, 27),
    (26, 28), (27, 29), (28, 30), (29, 31), (30, 32), (27, 31), (28, 32),
)  # fmt: skip
HAND_LIMBS: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (5, 9), (9, 10), (10, 11),
    (11, 12), (9, 13), (13, 14), (14, 15), (15, 16), (13, 17), (0, 17), (17, 18), (18, 19),
    (19, 20),
)  # fmt: skip

_FACE_OVAL: tuple[int, ...] = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152,
    148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109, 10,
)  # fmt: skip
_FACE_CONTOURS: tuple[tuple[int, ...], ...] = (
    (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291),  # outer lips, upper
    (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291),  # outer lips, lower
    (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308),  # inner lips, upper
    (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308),  # inner lips, lower
    (263, 466, 388, 387, 386, 385, 384, 398, 362),  # left eye, upper
    (263, 249, 390, 373, 374, 380, 381, 382, 362),  # left eye, lower
    (33, 246, 161, 160, 159, 158, 157, 173, 133),  # right eye, upper
    (33, 7, 163, 144, 145, 153, 154, 155, 133),  # right eye, lower
    (276, 283, 282, 295, 285),  # left eyebrow, lower
    (300, 293, 334, 296, 336),  # left eyebrow, upper
    (46, 53, 52, 65, 55),  # right eyebrow, lower
    (70, 63, 105, 66, 107),  # right eyebrow, upper
    _FACE_OVAL,
)
FACE_CONTOUR_LIMBS: tuple[tuple[int, int], ...] = tuple(
    (a, b) for line in _FACE_CONTOURS for a, b in pairwise(line)
)

COMPONENT_PARTS: dict[str, str] = {
    "POSE_LANDMARKS": "pose",
    "FACE_LANDMARKS": "face",
    "LEFT_HAND_LANDMARKS": "left_hand",
    "RIGHT_HAND_LANDMARKS": "right_hand",
}
"""``.pose`` component name -> Kaggle landmark type, in the order islr writes them."""

_POINT_INDEX: dict[str, dict[str, int]] = {
    "pose": {name: i for i, name in enumerate(POSE_POINTS)},
    "face": {str(i): i for i in range(_FACE_COUNT)},
    "left_hand": {name: i for i, name in enumerate(HAND_POINTS)},
    "right_hand": {name: i for i, name in enumerate(HAND_POINTS)},
}


def component_points(part: str) -> tuple[str, ...]:
    """The point names of a Kaggle landmark type, in MediaPipe's (and Kaggle's) order."""
    return tuple(_POINT_INDEX[part])


def kaggle_row(part: str, point: str) -> int | None:
    """Row (0..542) of point ``point`` of landmark type ``part``; ``None``: not one of Kaggle's
    543 (e.g. the refined iris points 468-477)."""
    index = _POINT_INDEX[part].get(point)
    return None if index is None else TYPE_OFFSETS[part] + index
