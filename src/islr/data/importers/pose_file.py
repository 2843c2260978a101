"""``.pose`` files (the sign-language-processing ecosystem's ``pose-format``) <-> Kaggle frames.

Reading takes MediaPipe Holistic's components ``POSE_LANDMARKS``, ``FACE_LANDMARKS``,
``LEFT_HAND_LANDMARKS`` and ``RIGHT_HAND_LANDMARKS`` (``POSE_WORLD_LANDMARKS`` and any other
component are ignored) of the file's first person, matches each point to its Kaggle row by name
(a file may hold a subset of the points, e.g. pose-format's reduced holistic; the others are
NaN, as are components the file lacks, e.g. a hands-only file), turns pixel coordinates into
image-normalised ones (x / width, y / height of the header) and makes points of confidence 0
NaN. z is kept as stored: pose-format's MediaPipe conversion stores MediaPipe's relative depth
as it is.

Writing is the inverse: four components with MediaPipe's point names and limbs, pixel
coordinates for a ``width × height`` image, confidence 1 where a point was detected and 0 (with
the point masked) where it is NaN.

The ``pose-format`` package is optional (``pip install "islr[pose]"``) and imported only here,
when a ``.pose`` file is read or written.
"""

from __future__ import annotations

import importlib
import io
import struct
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np

from islr.atomic_io import write_bytes_atomic
from islr.data.importers.holistic_points import (
    COMPONENT_PARTS,
    FACE_CONTOUR_LIMBS,
    HAND_LIMBS,
    POSE_LIMBS,
    component_points,
    kaggle_row,
)
from islr.data.reader import DataError
from islr.landmarks import N_LANDMARKS, TYPE_OFFSETS

__all__ = [
    "PoseFileError",
    "PoseFormatMissingError",
    "PoseLandmarks",
    "pose_format",
    "read_pose_file",
    "write_pose_file",
]

_LIMBS = {"pose": POSE_LIMBS, "face": FACE_CONTOUR_LIMBS, "left_hand": HAND_LIMBS}
_LIMBS["right_hand"] = HAND_LIMBS
_COLORS = {
    "pose": (255, 0, 0),
    "face": (128, 0, 0),
    "left_hand": (0, 192, 0),
    "right_hand": (0, 0, 192),
}


class PoseFormatMissingError(DataError):
    """The optional ``pose-format`` package is not installed."""


class PoseFileError(DataError):
    """A ``.pose`` file that cannot be read or holds no MediaPipe Holistic landmarks."""


def pose_format() -> ModuleType:
    """The ``pose_format`` package, imported on first use.

    Raises:
        PoseFormatMissingError: it is not installed (the message says how to install it).
    """
    try:
        for name in ("pose_format.pose_header", "pose_format.numpy"):
            importlib.import_module(name)
        return importlib.import_module("pose_format")
    except ImportError:
        raise PoseFormatMissingError(
            '.pose files need the pose-format package: pip install "islr[pose]"'
        ) from None


@dataclass
class PoseLandmarks:
    """The Kaggle frames of one ``.pose`` file and what its header says."""

    frames: np.ndarray  # [T, 543, 3] float32, NaN: not detected or not in the file
    fps: float
    width: int
    height: int


def _pose_rows(component) -> tuple[np.ndarray, np.ndarray]:
    """(positions within the component, Kaggle rows) of the points islr knows."""
    part = COMPONENT_PARTS[component.name]
    pairs = [(j, kaggle_row(part, str(p))) for j, p in enumerate(component.points)]
    known = [(j, row) for j, row in pairs if row is not None]
    return np.array([j for j, _ in known], int), np.array([r for _, r in known], int)


def read_pose_file(path: str | Path) -> PoseLandmarks:
    """Read a ``.pose`` file of MediaPipe Holistic landmarks as Kaggle frames.

    Raises:
        PoseFormatMissingError: ``pose-format`` is not installed.
        PoseFileError: the file is missing, truncated or not a ``.pose`` file, its header has
            no image size, or it has no Holistic component (naming the file).
    """
    path = Path(path)
    pf = pose_format()
    try:
        content = path.read_bytes()
        pose = pf.Pose.read(content)
        missing = _missing_bytes(content)
    except OSError as exc:
        raise PoseFileError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except Exception as exc:  # pose-format raises struct/value/index errors on damaged files
        raise PoseFileError(
            f"{path}: not a readable .pose file ({type(exc).__name__}: {exc})"
        ) from None
    if missing:
        raise PoseFileError(
            f"{path}: not a readable .pose file (truncated: its body is {missing} byte(s) short "
            "of a whole number of frames)"
        )
    header = pose.header
    names = [c.name for c in header.components]
    if not any(name in COMPONENT_PARTS for name in names):
        raise PoseFileError(
            f"{path}: no MediaPipe Holistic component ({', '.join(COMPONENT_PARTS)}); the file "
            f"has {', '.join(names) or 'none'}"
        )
    width, height = header.dimensions.width, header.dimensions.height
    if width <= 0 or height <= 0:
        raise PoseFileError(f"{path}: the header's image size {width}×{height} is not positive")
    data = np.ma.getdata(pose.body.data).astype(np.float64)
    confidence = np.asarray(pose.body.confidence)
    n_frames = data.shape[0]
    frames = np.full((n_frames, N_LANDMARKS, 3), np.nan)
    if n_frames and data.shape[1]:
        scale = np.array([width, height, 1.0])
        offset = 0
        for component in header.components:
            count = len(component.points)
            if component.name in COMPONENT_PARTS:
                positions, rows = _pose_rows(component)
                points = data[:, 0, offset + positions]
                if points.shape[-1] < 3:  # a 2-D file: no depth
                    points = np.concatenate([points, np.zeros_like(points[..., :1])], axis=-1)
                points = points[..., :3] / scale
                seen = confidence[:, 0, offset + positions] > 0
                points[~seen] = np.nan
                frames[:, rows] = points
            offset += count
    return PoseLandmarks(frames.astype(np.float32), float(pose.body.fps), int(width), int(height))


def _missing_bytes(content: bytes) -> int:
    """How many bytes a ``.pose`` file's body lacks (0: complete).

    pose-format reads a version-0.1 body (the MediaPipe files of its own tests) by dividing the
    bytes left by the size of a frame, so a truncated file reads without an error, with
    misaligned values. The body's size tells: a whole number of frames, whose count matches
    the stored one (a 16-bit field there, so modulo 65536).
    """
    reader_module = importlib.import_module("pose_format.utils.reader")
    reader = reader_module.BufferReader(content)
    header = importlib.import_module("pose_format.pose_header").PoseHeader.read(reader)
    points = sum(len(c.points) for c in header.components)
    start = reader.read_offset
    if round(header.version, 3) == 0.1:  # fps, frames: uint16 each; people: uint16
        _, declared, people = struct.unpack_from("<HHH", content, start)
        body = len(content) - start - 6
        frame = people * points * (header.num_dims() + 1) * 4
        if frame == 0 or (body % frame == 0 and (body // frame) % 65536 == declared):
            return 0
        whole = -(-body // frame)  # the frames begun, then up to the stored count
        whole += (declared - whole) % 65536
        return whole * frame - body
    if round(header.version, 3) == 0.2:  # fps: float32, frames: uint32, people: uint16
        _, declared, people = struct.unpack_from("<fIH", content, start)
        body = len(content) - start - 10
        return max(0, declared * people * points * (header.num_dims() + 1) * 4 - body)
    return 0  # older versions: pose-format's own reader fails on a short file


def _components(pf: ModuleType) -> list:
    out = []
    for name, part in COMPONENT_PARTS.items():
        out.append(
            pf.pose_header.PoseHeaderComponent(
                name=name,
                points=list(component_points(part)),
                limbs=list(_LIMBS[part]),
                colors=[_COLORS[part]],
                point_format="XYZC",
            )
        )
    return out


def write_pose_file(
    path: str | Path, frames: np.ndarray, *, width: int, height: int, fps: float
) -> None:
    """Write Kaggle frames ``[T, 543, 3]`` (image-normalised, NaN: not detected) as a ``.pose``
    file for a ``width × height`` image at ``fps`` frames per second. The file appears
    atomically.

    Raises:
        PoseFormatMissingError: ``pose-format`` is not installed.
        ValueError: ``frames`` is not ``[T, 543, 3]``, or the size or rate is not positive.
    """
    frames = np.asarray(frames, np.float64)
    if frames.ndim != 3 or frames.shape[1:] != (N_LANDMARKS, 3):
        raise ValueError(f"frames must have shape [T, {N_LANDMARKS}, 3], got {frames.shape}")
    if width <= 0 or height <= 0 or fps <= 0:
        raise ValueError(f"image size {width}×{height} and fps {fps} must be positive")
    pf = pose_format()
    order = np.concatenate(
        [
            TYPE_OFFSETS[part] + np.arange(len(component_points(part)))
            for part in COMPONENT_PARTS.values()
        ]
    )
    points = frames[:, order] * np.array([width, height, 1.0])
    seen = np.isfinite(points).all(axis=-1)
    points[~seen] = 0.0
    data = np.ma.masked_array(
        points[:, None].astype(np.float32),
        mask=np.repeat(~seen[:, None, :, None], 3, axis=-1),
    )
    body = pf.numpy.NumPyPoseBody(fps=fps, data=data, confidence=seen[:, None].astype(np.float32))
    header = pf.pose_header.PoseHeader(
        version=pf.pose_header.VERSION,
        dimensions=pf.pose_header.PoseHeaderDimensions(width=width, height=height, depth=0),
        components=_components(pf),
    )
    buffer = io.BytesIO()
    pf.Pose(header, body).write(buffer)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(path, buffer.getvalue())
