"""The per-frame vectors of MP_Data recordings: their layouts, detection and conversion.

The action-detection tutorial's ``extract_keypoints`` concatenates one MediaPipe Holistic frame
into a flat vector, pose 33×(x, y, z, visibility), face 468×(x, y, z), left hand 21×3, right hand
21×3 (1662 values), zeros for a part that was not detected. Its copies vary: the face first,
visibility kept for the hands and/or the face (MediaPipe's unused 4th field), the face left out.
:data:`KNOWN_LAYOUTS` holds every such variant; several share a length (pose-first and face-first
are both 1662), so :func:`detect_layout` decides from the values themselves:

* a visibility column (4th value of a point) lies in [0, 1];
* a face point's z is MediaPipe's small relative depth (|z| < 0.5);
* a hand's wrist has z = 0 (hand z is measured from the wrist).

A layout fits a frame when every part that is not all zeros passes these checks; the layout
that fits nearly all frames (and clearly more than any other of that length) is the one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import product

import numpy as np

from islr.landmarks import LANDMARK_TYPES, N_LANDMARKS, TYPE_OFFSETS

__all__ = [
    "KNOWN_LAYOUTS",
    "LayoutError",
    "VectorLayout",
    "detect_layout",
    "known_lengths",
    "layouts_of_length",
]

_POINTS = dict(LANDMARK_TYPES)
_MIN_FIT = 0.9  # share of informative frames the chosen layout must fit
_MARGIN = 0.2  # ... and by how much it must beat the next best of the same length
_FACE_MAX_Z = 0.5
_WRIST_MAX_Z = 1e-3


class LayoutError(ValueError):
    """Vectors that fit no known layout (the caller names the file)."""


@dataclass(frozen=True)
class VectorLayout:
    """One arrangement of a Holistic frame as a flat vector.

    Attributes:
        name: the order of the blocks (``pose_first``, ``face_first``, ``no_face``,
            ``hands_only``).
        blocks: ``(landmark type, values per point)`` in vector order.
    """

    name: str
    blocks: tuple[tuple[str, int], ...]

    @property
    def length(self) -> int:
        """Values per frame."""
        return sum(_POINTS[part] * width for part, width in self.blocks)

    def __str__(self) -> str:
        parts = ", ".join(f"{part} {_POINTS[part]}×{width}" for part, width in self.blocks)
        return f"{self.name} ({self.length} values: {parts})"

    def split(self, vectors: np.ndarray) -> dict[str, np.ndarray]:
        """``vectors [T, length]`` -> ``{landmark type: [T, points, values per point]}``."""
        out, start = {}, 0
        for part, width in self.blocks:
            size = _POINTS[part] * width
            out[part] = vectors[:, start : start + size].reshape(len(vectors), _POINTS[part], width)
            start += size
        return out

    def fits(self, vectors: np.ndarray) -> np.ndarray:
        """Per frame: ``True`` where every detected part passes the layout's value checks,
        ``False`` where one fails, and where no part is detected (an uninformative frame)."""
        ok = np.ones(len(vectors), bool)
        detected = np.zeros(len(vectors), bool)
        for part, block in self.split(vectors).items():
            present = (block != 0).any(axis=(1, 2))
            detected |= present
            good = np.isfinite(block).all(axis=(1, 2))
            if block.shape[2] == 4:
                good &= ((block[..., 3] >= 0) & (block[..., 3] <= 1)).all(axis=1)
            if part == "face":
                good &= (np.abs(block[..., 2]) < _FACE_MAX_Z).all(axis=1)
            elif part.endswith("hand"):
                good &= np.abs(block[:, 0, 2]) < _WRIST_MAX_Z
            ok &= good | ~present
        return ok & detected

    def to_frames(self, vectors: np.ndarray) -> np.ndarray:
        """``vectors [T, length]`` -> Kaggle frames ``[T, 543, 3]`` (x, y, z), NaN for every part
        that is all zeros in a frame (not detected) or absent from the layout."""
        frames = np.full((len(vectors), N_LANDMARKS, 3), np.nan)
        for part, block in self.split(np.asarray(vectors, np.float64)).items():
            xyz = block[..., :3].copy()
            xyz[~(block != 0).any(axis=(1, 2))] = np.nan
            start = TYPE_OFFSETS[part]
            frames[:, start : start + _POINTS[part]] = xyz
        return frames


def _known_layouts() -> tuple[VectorLayout, ...]:
    orders = {
        "pose_first": ("pose", "face", "left_hand", "right_hand"),
        "face_first": ("face", "pose", "left_hand", "right_hand"),
        "no_face": ("pose", "left_hand", "right_hand"),
        "hands_only": ("left_hand", "right_hand"),
    }
    layouts = []
    # The tutorial's widths first: on a tie the more common layout is preferred.
    for (name, order), pose_w, face_w, hand_w in product(orders.items(), (4, 3), (3, 4), (3, 4)):
        widths = {"pose": pose_w, "face": face_w, "left_hand": hand_w, "right_hand": hand_w}
        layout = VectorLayout(name, tuple((part, widths[part]) for part in order))
        if layout not in layouts:
            layouts.append(layout)
    return tuple(layouts)


KNOWN_LAYOUTS: tuple[VectorLayout, ...] = _known_layouts()


def layouts_of_length(length: int) -> list[VectorLayout]:
    """The known layouts with ``length`` values per frame (most common first)."""
    return [layout for layout in KNOWN_LAYOUTS if layout.length == length]


def known_lengths() -> list[int]:
    """Every vector length some known layout has."""
    return sorted({layout.length for layout in KNOWN_LAYOUTS})


def detect_layout(vectors: np.ndarray | Sequence[np.ndarray]) -> VectorLayout:
    """The layout of frames ``vectors [T, length]`` (one recording setup: a signer).

    Raises:
        LayoutError: the length is no known layout's, the values fit none of the layouts of
            that length, or two fit equally well and would give different landmarks.
    """
    vectors = np.asarray(vectors, np.float64)
    length = vectors.shape[1]
    candidates = layouts_of_length(length)
    if not candidates:
        raise LayoutError(
            f"{length} values per frame match no known MP_Data layout (known lengths: "
            f"{', '.join(map(str, known_lengths()))}; the tutorial's is 1662)"
        )
    informative = int((vectors != 0).any(axis=1).sum())
    if len(candidates) == 1 or informative == 0:  # all-zero frames read alike in every layout
        return candidates[0]
    scores = [layout.fits(vectors).sum() / informative for layout in candidates]
    order = np.argsort(scores, kind="stable")[::-1]
    best, second = candidates[order[0]], candidates[order[1]]
    if scores[order[0]] < _MIN_FIT:
        raise LayoutError(
            f"the {length}-value frames fit no known layout: the best, {best}, fits only "
            f"{scores[order[0]]:.0%} of {informative} frames with landmarks"
        )
    if scores[order[0]] - scores[order[1]] < _MARGIN and not np.array_equal(
        best.to_frames(vectors), second.to_frames(vectors), equal_nan=True
    ):
        raise LayoutError(
            f"the {length}-value frames fit two layouts alike ({best}: {scores[order[0]]:.0%}, "
            f"{second}: {scores[order[1]]:.0%} of {informative} frames)"
        )
    return best
