"""What the batch runs that write a data root share (``islr-import``, ``islr-extract``).

Both turn a work list of recordings into the Kaggle ISLR layout. An item of the work list
(:class:`WorkItem`) has a stable sequence id and the ``train.csv`` path of its landmark file;
work lists may come from a manifest CSV, read like the index CSVs of earlier runs
(:func:`read_csv_cells`).

Both runs are resumable the same way: an item whose landmark file exists is finished
(:func:`unfinished`; files appear atomically), and a recording that cannot be written is
skipped with its reason (:func:`write_landmarks`), never fatal. Both end by indexing the root:
the sign map (:func:`build_sign_map`, :func:`write_sign_map`) and CSV files (:func:`write_csv`).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Protocol, TypeVar

import numpy as np
import pandas as pd

from islr.atomic_io import write_text_atomic
from islr.data.reader import SIGN_MAP_FILENAME
from islr.data.writer import write_landmark_file
from islr.errors import DataError

__all__ = [
    "WorkItem",
    "build_sign_map",
    "drop_repeats",
    "read_csv_cells",
    "unfinished",
    "write_csv",
    "write_landmarks",
    "write_sign_map",
]


class WorkItem(Protocol):
    """One recording of a work list."""

    @property
    def sequence_id(self) -> int:
        """Its stable sequence id (the name of its landmark file)."""
        ...

    @property
    def relative_path(self) -> str:
        """The ``train.csv`` ``path`` of its landmark file."""
        ...


Item = TypeVar("Item", bound=WorkItem)


def drop_repeats(items: Iterable[Item], source: Callable[[Item], Path], what: str) -> list[Item]:
    """``items`` in order without exact repeats (one file given twice).

    Args:
        items: the work list.
        source: the file or folder an item is read from.
        what: what an item is, in the error message ("recording", "clip").

    Raises:
        DataError: two items from different files share a sequence id (they would write one
            landmark file).
    """
    seen: dict[int, Item] = {}
    out = []
    for item in items:
        other = seen.get(item.sequence_id)
        if other is None:
            seen[item.sequence_id] = item
            out.append(item)
        elif source(other).resolve() != source(item).resolve():
            raise DataError(
                f"{source(item)} and {source(other)} map to the same {what} (same signer, sign "
                "and name): rename one or give participant ids in a manifest"
            )
    return out


def read_csv_cells(path: Path, columns: list[str]) -> pd.DataFrame:
    """A CSV file's cells as strings (empty cells as ``""``), with ``columns`` required.

    Raises:
        DataError: the file cannot be parsed or lacks a column, naming it.
    """
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot parse ({exc})") from None
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {missing}; found {list(table.columns)}")
    return table


def unfinished(items: Iterable[Item], root: Path) -> list[Item]:
    """The items whose landmark file is not under the data root ``root`` yet, in order."""
    return [item for item in items if not (root / item.relative_path).is_file()]


def write_landmarks(
    path: Path, frames: np.ndarray, frame_numbers: Sequence[int] | np.ndarray | None
) -> str | None:
    """Write one recording's landmark file (see :func:`~islr.data.writer.write_landmark_file`).

    Returns:
        None when written, else why it cannot be (e.g. more frames than the file's int16
        ``frame`` column holds): the recording is skipped with that reason.
    """
    try:
        write_landmark_file(path, frames, frame_numbers=frame_numbers)
    except ValueError as exc:
        return f"cannot be written: {exc}"
    return None


def build_sign_map(signs: set[str], base: dict[str, int] | None = None) -> dict[str, int]:
    """The signs present, indexed in sorted order (as Kaggle's map is); with ``base``, that map
    kept as it is and every new sign appended after it, in sorted order."""
    out = dict(base or {})
    for sign in sorted(signs - out.keys()):
        out[sign] = len(out)
    return out


def write_sign_map(root: Path, sign_map: dict[str, int]) -> None:
    """Write ``sign_map`` as the data root's ``sign_to_prediction_index_map.json``."""
    write_text_atomic(root / SIGN_MAP_FILENAME, json.dumps(sign_map, indent=1) + "\n")


def write_csv(path: Path, rows: list[list]) -> None:
    """Write ``rows`` (the header first) as the CSV file ``path``, atomically."""
    text = io.StringIO()
    csv.writer(text).writerows(rows)
    write_text_atomic(path, text.getvalue())
