"""What the batch runs that write a data root share (``islr-import``, ``islr-extract``).

Both turn a work list of recordings into the Kaggle ISLR layout. An item of the work list
(:class:`WorkItem`) has a stable sequence id and the ``train.csv`` path of its landmark file;
work lists may come from a manifest CSV, read like the index CSVs of earlier runs
(:func:`read_csv_cells`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol, TypeVar

import pandas as pd

from islr.errors import DataError

__all__ = ["WorkItem", "drop_repeats", "read_csv_cells"]


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
