"""Writer of the Kaggle landmark parquet layout (the reader's counterpart).

Used by the synthetic generator, video extraction and test fixtures. Files are written to a
temporary name beside the target and renamed, so an interrupted write never leaves a
half-written ``.parquet`` that a later (resumed) run would take for a finished one.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from islr.landmarks import LANDMARK_TYPES, N_LANDMARKS

__all__ = ["LANDMARK_SCHEMA", "write_landmark_file"]

_SUFFIXES = [f"-{name}-{i}" for name, count in LANDMARK_TYPES for i in range(count)]
_TYPES = [name for name, count in LANDMARK_TYPES for _ in range(count)]
LANDMARK_SCHEMA = pa.schema(
    [
        ("frame", pa.int16()),
        ("row_id", pa.string()),
        ("type", pa.string()),
        ("landmark_index", pa.int16()),
        ("x", pa.float64()),
        ("y", pa.float64()),
        ("z", pa.float64()),
    ]
)


@lru_cache(maxsize=4096)
def _row_id_block(frame: int) -> tuple[bytes, np.ndarray]:
    """UTF-8 bytes and lengths of the 543 row ids of one frame number."""
    ids = [f"{frame}{s}" for s in _SUFFIXES]
    return "".join(ids).encode(), np.fromiter((len(s) for s in ids), np.int32, N_LANDMARKS)


@lru_cache(maxsize=1024)
def _static_columns(n_frames: int) -> tuple[pa.Array, pa.Array]:
    types = pa.array(_TYPES * n_frames, pa.string())
    index = np.concatenate([np.arange(c, dtype=np.int16) for _, c in LANDMARK_TYPES])
    return types, pa.array(np.tile(index, n_frames))


def _kaggle_table(frames: np.ndarray, numbers: np.ndarray) -> pa.Table:
    n = frames.shape[0]
    blocks = [_row_id_block(int(f)) for f in numbers]
    data = b"".join(b for b, _ in blocks)
    lengths = np.concatenate([ln for _, ln in blocks])
    offsets = np.zeros(len(lengths) + 1, np.int32)
    np.cumsum(lengths, out=offsets[1:])
    row_id = pa.StringArray.from_buffers(
        len(lengths), pa.py_buffer(offsets.tobytes()), pa.py_buffer(data)
    )
    types, index = _static_columns(n)
    flat = frames.reshape(-1, 3)
    return pa.Table.from_arrays(
        [
            pa.array(np.repeat(numbers.astype(np.int16), N_LANDMARKS)),
            row_id,
            types,
            index,
            pa.array(flat[:, 0]),
            pa.array(flat[:, 1]),
            pa.array(flat[:, 2]),
        ],
        schema=LANDMARK_SCHEMA,
    )


def write_landmark_file(
    path: str | Path,
    frames: np.ndarray,
    first_frame: int = 0,
    frame_numbers: Sequence[int] | None = None,
) -> None:
    """Write ``frames [T, 543, 3]`` as a Kaggle landmark parquet file.

    Frame numbers are ``frame_numbers`` (increasing, e.g. the decoded indices of a strided
    video) or run from ``first_frame``; NaN marks landmarks that were not detected. The file
    appears atomically (temporary name, then rename).

    Raises:
        ValueError: ``frames`` is not ``[T, 543, 3]`` with ``T >= 1``, or the frame numbers do
            not fit the Kaggle ``int16`` column or are not strictly increasing.
    """
    frames = np.asarray(frames, dtype=np.float64)
    if frames.ndim != 3 or frames.shape[1:] != (N_LANDMARKS, 3) or frames.shape[0] < 1:
        raise ValueError(f"frames must have shape [T>=1, {N_LANDMARKS}, 3], got {frames.shape}")
    n = frames.shape[0]
    if frame_numbers is None:
        numbers = np.arange(first_frame, first_frame + n, dtype=np.int64)
    else:
        numbers = np.asarray(frame_numbers, dtype=np.int64)
        if numbers.shape != (n,) or (n > 1 and not (np.diff(numbers) > 0).all()):
            raise ValueError(f"frame_numbers must be {n} strictly increasing integers")
    if numbers[0] < 0 or numbers[-1] > np.iinfo(np.int16).max:
        raise ValueError(
            f"frame numbers {numbers[0]}..{numbers[-1]} do not fit the Kaggle int16 frame column"
        )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        # Dictionary-encode the repetitive columns only: the unique row ids would waste time.
        pq.write_table(
            _kaggle_table(frames, numbers), tmp,
            use_dictionary=["frame", "type", "landmark_index"],
            write_statistics=False,
        )  # fmt: skip
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
