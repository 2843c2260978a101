"""The batch run every importer shares: recordings -> the Kaggle ISLR layout of a data root.

An importer lists its recordings as :class:`ImportItem` and reads one with a ``load`` function;
:func:`import_recordings` does the rest, the way ``islr-extract`` does for videos:

* **Signs** through :class:`~islr.data.importers.aliases.SignNames` (aliases, ``--sign-map``);
* **Kaggle layout**: ``train_landmark_files/<participant>/<sequence>.parquet`` (543 rows per
  frame, NaN where nothing was detected), ``sign_to_prediction_index_map.json`` and, last,
  ``train.csv``;
* **Resumable**: a recording whose landmark file exists is done and never redone (files appear
  atomically); skipped ones are looked at again, so a fixed file gets in on the next run;
* **Honest**: every recording that yields nothing (unreadable, empty, no hand in any frame, an
  unknown sign with ``strict``) is listed with its reason in ``import_skipped.csv``;
* **Cumulative**: ``train.csv`` keeps the rows of earlier runs into the same root (another
  folder, another format), so several imports make one data set.

Sequence ids are a stable 48-bit hash of (participant, the item's key), so reruns agree on them.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from islr.atomic_io import exclusive_lock
from islr.data._util import progress as progress_bar
from islr.data.batch_run import (
    build_sign_map,
    drop_repeats,
    read_csv_cells,
    unfinished,
    write_csv,
    write_landmarks,
    write_sign_map,
)
from islr.data.importers.aliases import SignNames
from islr.data.reader import SIGN_MAP_FILENAME, TRAIN_CSV_FILENAME, read_sign_map
from islr.landmarks import LHAND, RHAND

__all__ = [
    "SKIPPED_CSV",
    "ImportItem",
    "ImportReport",
    "Recording",
    "RecordingError",
    "import_recordings",
    "sequence_id_of",
]

log = logging.getLogger(__name__)

SKIPPED_CSV = "import_skipped.csv"
_STATE_DIR = ".islr-import"  # the lock of the index files
_TRAIN_COLUMNS = ["path", "participant_id", "sequence_id", "sign"]
_SKIPPED_COLUMNS = ["source", "sign", "participant_id", "reason"]
_HANDS = np.array(LHAND + RHAND)


@dataclass(frozen=True)
class ImportItem:
    """One recording to import.

    Attributes:
        source: its file or folder (named in reports).
        sign: its sign as the source names it (a folder name, a manifest entry).
        participant_id: its signer.
        key: what identifies it within its signer (its sequence id is a hash of both).
        group: recordings made alike (an MP_Data signer folder: one vector layout).
        problem: why it cannot be imported, when that is known before reading it.
    """

    source: Path
    sign: str
    participant_id: int
    key: str
    group: str = ""
    problem: str | None = None

    @property
    def sequence_id(self) -> int:
        return sequence_id_of(self.participant_id, self.key)

    @property
    def relative_path(self) -> str:
        """The ``train.csv`` ``path`` of its landmark file."""
        return f"train_landmark_files/{self.participant_id}/{self.sequence_id}.parquet"


@dataclass
class Recording:
    """What ``load`` returns: Kaggle frames ``[T, 543, 3]`` (NaN: not detected) and, optionally,
    their frame numbers (increasing; default ``0..T-1``)."""

    frames: np.ndarray
    frame_numbers: np.ndarray | None = None


class RecordingError(Exception):
    """Raised by ``load``: this recording cannot be imported (the message is the reason)."""


@dataclass
class ImportReport:
    """What one import run did."""

    root: Path
    items: int  # recordings in the work list
    imported: int = 0  # written by this run
    already_done: int = 0  # found finished (resumed run)
    frames: int = 0  # frames written by this run
    skipped: list[tuple[str, str, str]] = field(default_factory=list)  # (source, sign, reason)
    renamed: dict[str, str] = field(default_factory=dict)  # source sign name -> sign
    rows: int = 0  # rows of train.csv after this run
    signs: int = 0  # signs in train.csv
    participants: int = 0  # signers in train.csv
    seconds: float = 0.0

    def __str__(self) -> str:
        return (
            f"imported {self.imported} of {self.items} recording(s) ({self.frames} frames) in "
            f"{self.seconds:.1f} s, {self.already_done} already done, {len(self.skipped)} "
            f"skipped; train.csv has {self.rows} recording(s) of {self.signs} sign(s) by "
            f"{self.participants} signer(s) in {self.root}"
        )


def sequence_id_of(participant_id: int, key: str) -> int:
    """A recording's stable sequence id: 48 bits of a hash of its signer and key."""
    digest = hashlib.blake2b(f"{participant_id}\0{key}".encode(), digest_size=6)
    return int.from_bytes(digest.digest(), "big")


def _why_unusable(frames: np.ndarray) -> str | None:
    if len(frames) == 0:
        return "empty sequence: no frames"
    if np.isnan(frames).all():
        return f"no landmarks detected in any of {len(frames)} frames"
    if np.isnan(frames[:, _HANDS]).all():
        return f"no hand detected in any of {len(frames)} frames"
    return None


def import_recordings(
    items: Sequence[ImportItem],
    root: str | Path,
    load: Callable[[ImportItem], Recording],
    *,
    names: SignNames,
    progress: bool = True,
    desc: str = "import",
) -> ImportReport:
    """Import ``items`` into the data root ``root`` and index it (see the module docstring).

    Args:
        items: the work list.
        root: the data root to write (created; an existing one is extended).
        load: reads one item (raises :class:`RecordingError` for a recording it cannot read).
        names: turns the items' sign names into the data set's (``names.vocabulary``, when
            given, is kept as the start of the sign map).
        progress: show a progress bar (on a terminal).
        desc: the progress bar's label.

    Raises:
        DataError: two recordings map to one sequence id, or the root's ``train.csv`` is not a
            Kaggle ``train.csv``.
    """
    t0 = time.perf_counter()
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    items = drop_repeats(items, lambda item: item.source, "recording")
    report = ImportReport(root=root, items=len(items))
    signs: dict[ImportItem, str] = {}
    skipped: dict[ImportItem, str] = {}
    for item in items:
        sign = names.resolve(item.sign)
        if item.problem is not None:
            skipped[item] = item.problem
        elif sign is None:
            skipped[item] = f"unknown sign {item.sign!r}: not in the sign map (strict)"
        else:
            signs[item] = sign
            if sign != item.sign:
                report.renamed[item.sign] = sign
    todo = unfinished(signs, root)
    report.already_done = len(signs) - len(todo)
    if report.already_done:
        log.info(
            "%d of %d recording(s) already imported: not redone", report.already_done, len(signs)
        )
    bar = progress_bar(len(todo), progress, desc, unit="recording")
    for item in todo:
        try:
            recording = load(item)
        except RecordingError as exc:
            problem = str(exc)
        else:
            problem = _why_unusable(recording.frames)
        if problem is None:
            problem = write_landmarks(
                root / item.relative_path, recording.frames, recording.frame_numbers
            )
        if problem is None:
            report.imported += 1
            report.frames += len(recording.frames)
        else:
            skipped[item] = problem
            log.info("skipped %s: %s", item.source, problem)
        bar.update(1)
        bar.set_postfix(skipped=len(skipped), refresh=False)
    bar.close()
    done = {i: s for i, s in signs.items() if i not in skipped}
    report.skipped = [(str(i.source), i.sign, why) for i, why in skipped.items()]
    _write_index(root, items, done, skipped, names, report)
    report.seconds = time.perf_counter() - t0
    return report


def _read_rows(path: Path, columns: list[str]) -> pd.DataFrame:
    if not path.is_file():
        return pd.DataFrame(columns=columns)
    return read_csv_cells(path, columns)[columns]


def _write_index(
    root: Path,
    items: Sequence[ImportItem],
    done: dict[ImportItem, str],
    skipped: dict[ImportItem, str],
    names: SignNames,
    report: ImportReport,
) -> None:
    """Write the sign map, ``import_skipped.csv`` and (last) ``train.csv``, keeping the rows of
    earlier runs that this run's work list does not cover. The sign map starts from
    ``names.vocabulary``, else from the root's existing map (its indices never move)."""
    mine_paths = {i.relative_path for i in items}
    mine_sources = {str(i.source.resolve()) for i in items}
    with exclusive_lock(root / _STATE_DIR / "lock"):
        earlier = _read_rows(root / TRAIN_CSV_FILENAME, _TRAIN_COLUMNS)
        earlier = earlier[
            ~earlier["path"].isin(mine_paths) & earlier["path"].map(lambda p: (root / p).is_file())
        ]
        rows = [list(r) for r in earlier.itertuples(index=False)]
        rows += [[i.relative_path, i.participant_id, i.sequence_id, s] for i, s in done.items()]
        base = names.vocabulary
        if base is None and (root / SIGN_MAP_FILENAME).is_file():
            base = read_sign_map(root)  # an earlier run's indices stay as they are
        sign_map = build_sign_map({str(r[3]) for r in rows}, base)
        write_sign_map(root, sign_map)
        earlier_skips = _read_rows(root / SKIPPED_CSV, _SKIPPED_COLUMNS)
        skips = [
            list(r) for r in earlier_skips.itertuples(index=False) if r.source not in mine_sources
        ]
        skips += [
            [str(i.source.resolve()), i.sign, i.participant_id, why] for i, why in skipped.items()
        ]
        write_csv(root / SKIPPED_CSV, [_SKIPPED_COLUMNS, *skips])
        # train.csv goes last: its presence marks a usable data root.
        write_csv(root / TRAIN_CSV_FILENAME, [_TRAIN_COLUMNS, *rows])
    report.rows = len(rows)
    report.signs = len({str(r[3]) for r in rows})
    report.participants = len({str(r[1]) for r in rows})
