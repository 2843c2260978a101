"""Readers for the Kaggle ISLR layout: landmark parquet files, ``train.csv`` and the sign map.

Every problem with an input file raises a :class:`~islr.errors.DataError` subclass whose
message names the file and says what is wrong, so a bad file in a 94k-file data set is easy to
find.
"""

from __future__ import annotations

import json
import logging
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from islr.errors import DataError
from islr.landmarks import LANDMARK_TYPES, N_LANDMARKS

__all__ = [
    "LANDMARK_COLUMNS",
    "SIGN_MAP_FILENAME",
    "TRAIN_CSV_FILENAME",
    "LandmarkFileError",
    "read_landmark_file",
    "read_sign_map",
    "read_train_csv",
    "resolve_path",
]

log = logging.getLogger(__name__)

SIGN_MAP_FILENAME = "sign_to_prediction_index_map.json"
TRAIN_CSV_FILENAME = "train.csv"
LANDMARK_COLUMNS: tuple[str, ...] = ("frame", "row_id", "type", "landmark_index", "x", "y", "z")
TRAIN_CSV_COLUMNS: tuple[str, ...] = ("path", "participant_id", "sequence_id", "sign")

# Columns actually read: coordinates plus the cheap integer/dictionary columns the order check
# needs. ``row_id`` (a string per row) is never read: it is redundant and the slowest column.
_READ_COLUMNS = ["frame", "type", "landmark_index", "x", "y", "z"]

# Expected landmark_index and type code of each of the 543 rows of a frame.
_EXPECTED_INDEX = np.concatenate([np.arange(n, dtype=np.int16) for _, n in LANDMARK_TYPES])
_TYPE_NAMES = tuple(name for name, _ in LANDMARK_TYPES)
_EXPECTED_TYPE = np.concatenate(
    [np.full(n, code, dtype=np.int8) for code, (_, n) in enumerate(LANDMARK_TYPES)]
)


class LandmarkFileError(DataError):
    """A landmark parquet file is missing, unreadable or malformed.

    Attributes:
        path: the offending file.
        problem: what is wrong with it, in words.
    """

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")

    def __reduce__(self):  # keep the two-argument constructor picklable across processes
        return (type(self), (self.path, self.problem))


# What pyarrow raises on damaged files besides ArrowException (found by fuzzing real files:
# e.g. a flipped byte in a column name gives UnicodeDecodeError while opening).
_CORRUPT = (
    pa.ArrowException,
    OSError,
    UnicodeDecodeError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    OverflowError,
    MemoryError,
)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _read_table(path: Path) -> pa.Table:
    if not path.is_file():
        raise LandmarkFileError(path, "file does not exist" if not path.exists() else "not a file")
    try:
        try:
            pf = pq.ParquetFile(path, read_dictionary=["type"])
        except KeyError:
            # pyarrow raises a bare KeyError when a read_dictionary column is absent: reopen
            # plainly so the missing-column check below names what is missing.
            pf = pq.ParquetFile(path)
    except _CORRUPT as exc:
        raise LandmarkFileError(path, f"not a readable parquet file ({_describe(exc)})") from None
    names = set(pf.schema_arrow.names)
    missing = [c for c in ("landmark_index", "x", "y", "z", "frame", "type") if c not in names]
    if missing:
        raise LandmarkFileError(path, f"missing column(s) {missing}; found {sorted(names)}")
    try:
        # Dictionary-decode ``type`` so the order check compares small integer codes, not strings.
        return pf.read(columns=_READ_COLUMNS, use_threads=False)
    except _CORRUPT as exc:
        raise LandmarkFileError(
            path, f"truncated or corrupt parquet data ({_describe(exc)})"
        ) from None


def _check_order(path: Path, table: pa.Table, n_frames: int) -> None:
    index = table.column("landmark_index").to_numpy()
    if not np.array_equal(
        index.reshape(n_frames, N_LANDMARKS),
        np.broadcast_to(_EXPECTED_INDEX, (n_frames, N_LANDMARKS)),
    ):
        bad = int(np.flatnonzero(index.reshape(-1) != np.tile(_EXPECTED_INDEX, n_frames))[0])
        raise LandmarkFileError(
            path,
            f"rows out of the fixed landmark order: row {bad} has landmark_index {index[bad]}, "
            f"expected {_EXPECTED_INDEX[bad % N_LANDMARKS]} (543 rows per frame: face 0-467, "
            "left_hand, pose, right_hand)",
        )
    frames = table.column("frame").to_numpy().reshape(n_frames, N_LANDMARKS)
    first = frames[:, 0]
    if not (frames == first[:, None]).all():
        raise LandmarkFileError(
            path, "frames are not contiguous: a block of 543 rows mixes several frame numbers"
        )
    steps = np.diff(first)
    if (steps <= 0).any():
        k = int(np.flatnonzero(steps <= 0)[0])
        if np.unique(first).size != n_frames:
            raise LandmarkFileError(
                path, "a frame number appears in more than one block of 543 rows"
            )
        raise LandmarkFileError(
            path,
            f"frames out of order: frame {first[k + 1]} (row {(k + 1) * N_LANDMARKS}) follows "
            f"frame {first[k]}; frame numbers must increase",
        )
    _check_types(path, table.column("type"), n_frames)


def _check_types(path: Path, column: pa.ChunkedArray, n_frames: int) -> None:
    # Hands have the same landmark_index range, so only ``type`` tells left from right: compare
    # dictionary codes (cheap) mapped to our type order.
    column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if not pa.types.is_dictionary(column.type):
        column = column.dictionary_encode()
    dictionary = column.dictionary.to_pylist()
    unknown = [t for t in dictionary if t not in _TYPE_NAMES]
    if unknown:
        raise LandmarkFileError(path, f"unknown landmark type(s) {unknown}")
    remap = np.array([_TYPE_NAMES.index(t) for t in dictionary], dtype=np.int8)
    codes = remap[column.indices.to_numpy(zero_copy_only=False)]
    if not np.array_equal(
        codes.reshape(n_frames, N_LANDMARKS),
        np.broadcast_to(_EXPECTED_TYPE, (n_frames, N_LANDMARKS)),
    ):
        bad = int(np.flatnonzero(codes != np.tile(_EXPECTED_TYPE, n_frames))[0])
        expected = _EXPECTED_TYPE[bad % N_LANDMARKS]
        raise LandmarkFileError(
            path,
            f"rows out of the fixed landmark order: row {bad} has type "
            f"{_TYPE_NAMES[codes[bad]]!r}, expected {_TYPE_NAMES[expected]!r}",
        )


def read_landmark_file(path: str | Path, *, validate: bool = True) -> np.ndarray:
    """Read one landmark parquet file into a float32 array ``[T, 543, 3]`` (x, y, z).

    NaN (landmark not detected) is kept. With ``validate`` (the default) the file's layout is
    checked: the required columns, a whole number of 543-row frames, the fixed landmark order in
    every frame, contiguous frames, at least one frame and no infinite coordinates.

    Raises:
        LandmarkFileError: naming the file and the problem.
    """
    path = Path(path)
    try:
        return _read_landmarks(path, validate)
    except LandmarkFileError:
        raise
    except _CORRUPT as exc:  # decoding damaged data can fail anywhere in pyarrow
        raise LandmarkFileError(path, f"corrupt parquet data ({_describe(exc)})") from None


def _check_column_types(path: Path, table: pa.Table) -> None:
    for name in ("frame", "landmark_index"):
        column = table.column(name)
        if not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)):
            raise LandmarkFileError(path, f"column {name!r} has type {column.type}, not a number")
    for name in ("frame", "landmark_index", "type"):
        nulls = table.column(name).null_count
        if nulls:
            raise LandmarkFileError(path, f"column {name!r} has {nulls} null value(s)")


def _read_landmarks(path: Path, validate: bool) -> np.ndarray:
    table = _read_table(path)
    n_rows = table.num_rows
    if n_rows == 0:
        raise LandmarkFileError(path, "zero frames (the file has no rows)")
    if n_rows % N_LANDMARKS:
        raise LandmarkFileError(
            path, f"{n_rows} rows is not a multiple of {N_LANDMARKS} (rows per frame)"
        )
    n_frames = n_rows // N_LANDMARKS
    out = np.empty((n_rows, 3), dtype=np.float32)
    for axis, name in enumerate("xyz"):
        column = table.column(name)
        if not pa.types.is_floating(column.type) and not pa.types.is_integer(column.type):
            raise LandmarkFileError(path, f"column {name!r} has type {column.type}, not a number")
        # Nulls become NaN: some writers store "not detected" as null rather than NaN.
        # Values beyond the float32 range become inf here; reported below.
        with np.errstate(over="ignore"):
            out[:, axis] = column.to_numpy()
    if validate:
        _check_column_types(path, table)
        _check_order(path, table, n_frames)
        if np.isinf(out).any():
            raise LandmarkFileError(path, _inf_problem(table, out))
    return out.reshape(n_frames, N_LANDMARKS, 3)


def _inf_problem(table: pa.Table, out: np.ndarray) -> str:
    """Say how many values were infinite in the file, and how many too large for float32."""
    infinite = sum(int(np.isinf(table.column(n).to_numpy()).sum()) for n in "xyz")
    too_large = int(np.isinf(out).sum()) - infinite
    parts = [f"{infinite} infinite coordinate value(s)"] if infinite else []
    if too_large:
        parts.append(f"{too_large} coordinate value(s) beyond the float32 range")
    return " and ".join(parts)


def _packaged_sign_map_text() -> str:
    return resources.files("islr").joinpath("resources", SIGN_MAP_FILENAME).read_text("utf-8")


def read_sign_map(path_or_root: str | Path | None = None) -> dict[str, int]:
    """Read ``sign_to_prediction_index_map.json``: sign name -> class index.

    Args:
        path_or_root: the JSON file, or a data root holding it; ``None`` reads the packaged
            250-sign Kaggle map.

    Raises:
        DataError: missing/unparsable file, or indices that are not exactly 0..N-1.
    """
    if path_or_root is None:
        where, text = "packaged sign map", _packaged_sign_map_text()
    else:
        path = Path(path_or_root)
        if path.is_dir():
            path = path / SIGN_MAP_FILENAME
        if not path.is_file():
            raise DataError(f"{path}: sign map not found")
        where, text = str(path), path.read_text("utf-8")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{where}: not valid JSON ({exc})") from None
    if not isinstance(raw, dict) or not raw:
        raise DataError(f"{where}: expected a non-empty JSON object sign -> index")
    bad = {k: v for k, v in raw.items() if not isinstance(v, int) or isinstance(v, bool)}
    if bad:
        raise DataError(f"{where}: non-integer index for sign(s) {sorted(bad)[:5]}")
    values = sorted(raw.values())
    if values != list(range(len(raw))):
        raise DataError(
            f"{where}: indices must be 0..{len(raw) - 1}, each exactly once "
            f"(found min {values[0]}, max {values[-1]}, {len(set(values))} distinct)"
        )
    return {str(k): int(v) for k, v in raw.items()}


def resolve_path(root: str | Path, rel: str | Path) -> Path:
    """Absolute location of a ``train.csv`` ``path`` entry (relative to the data root)."""
    rel = Path(rel)
    return rel if rel.is_absolute() else Path(root) / rel


def read_train_csv(root: str | Path, sign_map: dict[str, int] | None = None) -> pd.DataFrame:
    """Read ``<root>/train.csv`` and attach integer labels.

    Args:
        root: the data root (holding ``train.csv``).
        sign_map: sign -> index; default: ``<root>/sign_to_prediction_index_map.json`` if it
            exists, else the packaged map.

    Returns:
        DataFrame with columns ``path`` (str), ``participant_id`` (int64), ``sequence_id``
        (int64), ``sign`` (str) and ``label`` (int64), in file order.

    Raises:
        DataError: missing file, missing columns, bad ids or an unknown sign (named with its row).
    """
    root = Path(root)
    csv = root / TRAIN_CSV_FILENAME
    if not csv.is_file():
        raise DataError(f"{csv}: train.csv not found (is {root} a Kaggle ISLR data root?)")
    if sign_map is None:
        sign_map = read_sign_map(root if (root / SIGN_MAP_FILENAME).is_file() else None)
    try:
        df = pd.read_csv(csv, dtype={"path": str, "sign": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"{csv}: cannot parse ({exc})") from None
    missing = [c for c in TRAIN_CSV_COLUMNS if c not in df.columns]
    if missing:
        raise DataError(f"{csv}: missing column(s) {missing}; found {list(df.columns)}")
    df = df[list(TRAIN_CSV_COLUMNS)].copy()
    for col in ("participant_id", "sequence_id"):
        values = pd.to_numeric(df[col], errors="coerce")
        if values.isna().any() or (values != values.round()).any():
            row = int(np.flatnonzero(values.isna() | (values != values.round()))[0])
            raise DataError(f"{csv}: row {row + 2}: {col} {df[col].iloc[row]!r} is not an integer")
        df[col] = values.astype(np.int64)
    if df["path"].isna().any():
        row = int(np.flatnonzero(df["path"].isna())[0])
        raise DataError(f"{csv}: row {row + 2}: empty path")
    labels = df["sign"].map(sign_map)
    if labels.isna().any():
        row = int(np.flatnonzero(labels.isna())[0])
        raise DataError(
            f"{csv}: row {row + 2}: unknown sign {df['sign'].iloc[row]!r} "
            f"(not in the sign map of {len(sign_map)} signs)"
        )
    df["label"] = labels.astype(np.int64)
    return df.reset_index(drop=True)
