"""The action-detection tutorial's "MP_Data" folders: ``<signer>/MP_Data/<sign>/<seq>/<frame>.npy``.

Each ``<frame>.npy`` holds one MediaPipe Holistic frame as a flat vector (see
:mod:`~islr.data.importers.mp_layout` for the layouts and their detection). A sequence folder is
one recording; its frames are ordered by number (``10.npy`` after ``9.npy``).

* **Signs**: the sign folder's name (resolved by :class:`~islr.data.importers.aliases.SignNames`).
* **Signers**: the folder above ``MP_Data`` (a number is the participant id itself, any other
  name its CRC-32, as for ``islr-extract``); a folder of sign folders not named ``MP_Data`` is
  its own signer. A manifest's ``participant_id`` or ``participant_id`` for the whole run wins.
* **Layout** per signer folder (and vector length), detected from its values; a layout that
  matches nothing is a :class:`~islr.data.reader.DataError` naming the file.
* **Skipped** (reported, never silently dropped): an unreadable or malformed ``.npy``, an empty
  sequence folder, a sign folder without sequences, a ``.npy`` outside a sequence folder (and, in
  the batch runner, a sequence without any hand).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from islr.data.importers.batch import ImportItem, Recording, RecordingError
from islr.data.importers.manifest import read_import_manifest
from islr.data.importers.mp_layout import LayoutError, VectorLayout, detect_layout
from islr.data.reader import DataError
from islr.data.video.discover import participant_id_of
from islr.landmarks import N_LANDMARKS

__all__ = ["MpDataReader", "find_mp_data", "read_mp_data_manifest"]

DATA_FOLDER = "mp_data"  # compared case-insensitively
_SAMPLE_SEQUENCES = 8  # other sequences of a signer read to detect its layout


def _natural(path: Path) -> tuple[int, int, str]:
    return (0, int(path.name), "") if path.name.isdigit() else (1, 0, path.name)


def _subfolders(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if p.is_dir()), key=_natural)


def _data_folders(src: Path) -> list[Path]:
    if not src.is_dir():
        raise DataError(f"{src}: no such folder")
    if src.name.casefold() == DATA_FOLDER:
        return [src]
    found = sorted(p for p in src.rglob("*") if p.is_dir() and p.name.casefold() == DATA_FOLDER)
    if found:
        return found
    if any(src.glob("*/*/*.npy")):
        return [src]
    raise DataError(f"{src}: no MP_Data folder and no <sign>/<sequence>/<frame>.npy inside")


def _signer(data_folder: Path) -> str:
    """The signer's folder name: the one above ``MP_Data``, else the data folder itself."""
    folder = data_folder.resolve()
    return folder.parent.name if folder.name.casefold() == DATA_FOLDER else folder.name


def _sequence_item(folder: Path, sign: str, pid: int, group: str) -> ImportItem:
    return ImportItem(folder, sign, pid, f"{folder.parent.name}/{folder.name}", group)


def _sign_folder_items(folder: Path, sign: str, pid: int, group: str) -> list[ImportItem]:
    items = [_sequence_item(seq, sign, pid, group) for seq in _subfolders(folder)]
    for stray in sorted(folder.glob("*.npy")):
        items.append(
            ImportItem(stray, sign, pid, f"{folder.name}/{stray.name}", group,
                       problem="a frame file outside a <sequence> folder")
        )  # fmt: skip
    if not items:
        items.append(
            ImportItem(folder, sign, pid, folder.name, group, problem="no sequence folders")
        )
    return items


def find_mp_data(src: str | Path, participant_id: int | None = None) -> list[ImportItem]:
    """The sequences under ``src``: a folder of signers' ``MP_Data`` folders, one ``MP_Data``
    folder, or a folder laid out like one (``<sign>/<sequence>/<frame>.npy``).

    Raises:
        DataError: ``src`` is not a folder or holds no MP_Data layout.
    """
    items: list[ImportItem] = []
    for data in _data_folders(Path(src)):
        pid = participant_id if participant_id is not None else participant_id_of(_signer(data))
        group = str(data.resolve())
        for sign_folder in _subfolders(data):
            items += _sign_folder_items(sign_folder, sign_folder.name, pid, group)
        for stray in sorted(data.glob("*.npy")):
            items.append(
                ImportItem(stray, "", pid, stray.name, group,
                           problem="a frame file outside a <sign>/<sequence> folder")
            )  # fmt: skip
    return items


def read_mp_data_manifest(
    manifest: str | Path, participant_id: int | None = None
) -> list[ImportItem]:
    """The sequences a manifest lists: each ``path`` is a sequence folder (holding the frame
    files) or a sign folder (holding sequence folders); ``sign`` defaults to the sign folder's
    name, ``participant_id`` to ``participant_id``, else the signer folder's.

    Raises:
        DataError: a bad manifest (see :func:`read_import_manifest`) or a path that is not a
            folder, naming the row.
    """
    items: list[ImportItem] = []
    for row in read_import_manifest(manifest):
        if not row.path.is_dir():
            raise DataError(f"{manifest}: row {row.row}: {row.entry}: no such folder")
        is_sequence = any(row.path.glob("*.npy")) or not _subfolders(row.path)
        sign_folder = row.path.parent if is_sequence else row.path
        data = sign_folder.parent
        pid = row.participant_id
        if pid is None:
            pid = participant_id if participant_id is not None else participant_id_of(_signer(data))
        sign = row.sign or sign_folder.resolve().name
        group = str(data.resolve())
        if is_sequence:
            items.append(_sequence_item(row.path, sign, pid, group))
        else:
            items += _sign_folder_items(row.path, sign, pid, group)
    return items


def _frame_files(folder: Path) -> list[tuple[int, Path]]:
    files = [p for p in folder.iterdir() if p.suffix.lower() == ".npy" and p.is_file()]
    if not files:
        raise RecordingError("empty sequence: no .npy frame files")
    numbered: dict[int, Path] = {}
    for path in files:
        if not path.stem.isdigit():
            raise RecordingError(f"frame file {path.name} is not named by its frame number")
        number = int(path.stem)
        if number in numbered:
            raise RecordingError(
                f"two files for frame {number}: {numbered[number].name}, {path.name}"
            )
        numbered[number] = path
    return sorted(numbered.items())


def _load_vector(path: Path) -> np.ndarray:
    try:
        vector = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise RecordingError(f"unreadable frame file {path.name}: {exc}") from None
    if vector.ndim == 2 and vector.shape[0] == 1:
        vector = vector[0]
    if vector.ndim != 1 or not np.issubdtype(vector.dtype, np.number):
        raise RecordingError(
            f"frame file {path.name} holds a {vector.dtype} array of shape {vector.shape}, "
            "not one frame's vector"
        )
    if np.isinf(vector).any():
        raise RecordingError(f"frame file {path.name} holds infinite values")
    return vector.astype(np.float64)


class MpDataReader:
    """Reads MP_Data sequences (the ``load`` of the batch runner), detecting each signer
    folder's layout on first use from its recordings.

    Attributes:
        layouts: ``{signer folder: {vector length: layout}}`` detected so far.
    """

    def __init__(self, items: Sequence[ImportItem]) -> None:
        self._groups: dict[str, list[ImportItem]] = defaultdict(list)
        for item in items:
            if item.problem is None:
                self._groups[item.group].append(item)
        self.layouts: dict[str, dict[int, VectorLayout]] = defaultdict(dict)

    def _vectors(self, item: ImportItem) -> tuple[np.ndarray, list[np.ndarray], list[Path]]:
        numbered = _frame_files(item.source)
        vectors = [_load_vector(path) for _, path in numbered]
        return np.array([n for n, _ in numbered]), vectors, [p for _, p in numbered]

    def _layout(
        self, item: ImportItem, length: int, own: list[np.ndarray], file: Path
    ) -> VectorLayout:
        known = self.layouts[item.group].get(length)
        if known is not None:
            return known
        sample = list(own)
        others = [i for i in self._groups[item.group] if i != item]
        step = max(1, len(others) // _SAMPLE_SEQUENCES)
        for other in others[::step][:_SAMPLE_SEQUENCES]:
            try:
                sample += [v for v in self._vectors(other)[1] if len(v) == length]
            except RecordingError:  # reported when that sequence itself is read
                continue
        try:
            layout = detect_layout(np.stack(sample))
        except LayoutError as exc:
            raise DataError(f"{file}: {exc}") from None
        self.layouts[item.group][length] = layout
        return layout

    def __call__(self, item: ImportItem) -> Recording:
        numbers, vectors, files = self._vectors(item)
        frames = np.empty((len(vectors), N_LANDMARKS, 3))
        lengths = np.array([len(v) for v in vectors])
        for length in np.unique(lengths):
            where = np.flatnonzero(lengths == length)
            own = [vectors[i] for i in where]
            layout = self._layout(item, int(length), own, files[where[0]])
            frames[where] = layout.to_frames(np.stack(own))
        return Recording(frames, numbers)
