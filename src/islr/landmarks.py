"""MediaPipe holistic landmark topology used throughout islr.

Pure constants (no heavy imports) shared by every stage: the reader checks the 543-row frame
layout, the cache stores the 118 selected points, the features layer normalises them and the
flip augmentation mirrors them. Indices follow the reference recipe (Kaggle ISLR, 1st place).
"""

from __future__ import annotations

import numpy as np

# --- the raw frame: 543 rows per frame in a fixed order -----------------------------------
LANDMARK_TYPES: tuple[tuple[str, int], ...] = (
    ("face", 468),
    ("left_hand", 21),
    ("pose", 33),
    ("right_hand", 21),
)
N_LANDMARKS = sum(n for _, n in LANDMARK_TYPES)  # 543
TYPE_OFFSETS: dict[str, int] = {}
_offset = 0
for _name, _n in LANDMARK_TYPES:
    TYPE_OFFSETS[_name] = _offset
    _offset += _n
del _offset, _name, _n

# --- the 118 selected points (indices into the 543 rows), in feature order -------------------
LIP: tuple[int, ...] = (
    0, 61, 185, 40, 39, 37, 267, 269, 270, 409, 291, 146, 91, 181, 84, 17, 314, 405, 321, 375,
    78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308,
)  # fmt: skip
LHAND: tuple[int, ...] = tuple(range(468, 489))
RHAND: tuple[int, ...] = tuple(range(522, 543))
NOSE: tuple[int, ...] = (1, 2, 98, 327)
REYE: tuple[int, ...] = (
    33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173,
)  # fmt: skip
LEYE: tuple[int, ...] = (
    263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398,
)  # fmt: skip

POINT_GROUPS: dict[str, tuple[int, ...]] = {
    "lip": LIP,
    "lhand": LHAND,
    "rhand": RHAND,
    "nose": NOSE,
    "reye": REYE,
    "leye": LEYE,
}
POINT_INDICES: tuple[int, ...] = LIP + LHAND + RHAND + NOSE + REYE + LEYE
N_POINTS = len(POINT_INDICES)  # 118
N_FEATURES = N_POINTS * 2 * 3  # x, y for positions, dx and dx2: 708

# Landmark 17 (lower lip centre) is the normalisation reference; position inside POINT_INDICES.
REFERENCE_LANDMARK = 17
REFERENCE_POINT = POINT_INDICES.index(REFERENCE_LANDMARK)  # 15
REFERENCE_FALLBACK = 0.5  # used per axis where the reference point is never seen

PAD_VALUE = -100.0  # padded frames (at the end of time) are filled with this in every value

# Slices of each group inside the 118 selected points.
GROUP_SLICES: dict[str, slice] = {}
_start = 0
for _name, _idx in POINT_GROUPS.items():
    GROUP_SLICES[_name] = slice(_start, _start + len(_idx))
    _start += len(_idx)
del _start, _name, _idx

# --- horizontal mirroring ---------------------------------------------------------------
# Left/right lip halves pair up position by position; the 4 midline lip points map to themselves.
LIP_LEFT: tuple[int, ...] = (
    84, 181, 91, 146, 61, 185, 40, 39, 37, 87, 178, 88, 95, 78, 191, 80, 81, 82,
)  # fmt: skip
LIP_RIGHT: tuple[int, ...] = (
    314, 405, 321, 375, 291, 409, 270, 269, 267, 317, 402, 318, 324, 308, 415, 310, 311, 312,
)  # fmt: skip
NOSE_PAIRS: tuple[tuple[int, int], ...] = ((98, 327),)


def _flip_pairs_raw() -> list[tuple[int, int]]:
    """Mirror pairs as raw landmark indices (each pair listed once)."""
    pairs = list(zip(LIP_LEFT, LIP_RIGHT, strict=True))
    pairs += list(zip(LHAND, RHAND, strict=True))
    pairs += list(zip(REYE, LEYE, strict=True))  # the eye lists are given in mirrored order
    pairs += list(NOSE_PAIRS)
    return pairs


def flip_permutation() -> np.ndarray:
    """Permutation ``perm`` of the 118 selected points such that ``mirrored = points[perm]``.

    Applying it twice is the identity. Combined with ``x <- 1 - x`` it mirrors a sequence.
    """
    position = {raw: i for i, raw in enumerate(POINT_INDICES)}
    perm = np.arange(N_POINTS)
    for a, b in _flip_pairs_raw():
        ia, ib = position[a], position[b]
        perm[ia], perm[ib] = ib, ia
    return perm


FLIP_PERMUTATION: np.ndarray = flip_permutation()
FLIP_PERMUTATION.setflags(write=False)
