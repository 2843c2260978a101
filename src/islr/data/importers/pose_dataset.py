"""Folders of ``.pose`` files as import work lists: ``<signer>/<sign>/<name>.pose``.

As for videos (``islr-extract``): a file's sign is its parent folder's name, its signer the
folder above that (a number is the participant id itself, any other name its CRC-32), unless a
manifest (``path, sign, participant_id``) or ``participant_id`` for the whole run says otherwise.
:func:`load_pose_recording` is the batch runner's ``load``: an unreadable or truncated file is a
skipped recording, not the end of the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from islr.data.importers.batch import ImportItem, Recording, RecordingError
from islr.data.importers.manifest import read_import_manifest
from islr.data.importers.pose_file import PoseFileError, read_pose_file
from islr.data.reader import DataError
from islr.data.video.discover import participant_id_of

__all__ = ["POSE_SUFFIX", "find_pose_files", "load_pose_recording", "read_pose_manifest"]

POSE_SUFFIX = ".pose"


def _files(path: Path, where: str) -> list[Path]:
    if path.is_dir():
        files = sorted(
            p for p in path.rglob("*") if p.is_file() and p.suffix.lower() == POSE_SUFFIX
        )
        if not files:
            raise DataError(f"{where}: no {POSE_SUFFIX} file inside")
        return files
    if path.is_file():
        if path.suffix.lower() != POSE_SUFFIX:
            raise DataError(f"{where}: not a {POSE_SUFFIX} file")
        return [path]
    raise DataError(f"{where}: no such file or folder")


def _item(file: Path, sign: str | None, participant_id: int | None) -> ImportItem:
    absolute = file.resolve()
    sign = sign or absolute.parent.name
    if participant_id is None:
        participant_id = participant_id_of(absolute.parent.parent.name)
    return ImportItem(file, sign, participant_id, f"{absolute.parent.name}/{file.name}")


def find_pose_files(
    inputs: Sequence[str | Path], participant_id: int | None = None
) -> list[ImportItem]:
    """The ``.pose`` files given or under the folders given (searched recursively).

    Raises:
        DataError: an input that does not exist, a file that is not ``.pose``, a folder
            without any.
    """
    items = []
    for entry in inputs:
        for file in _files(Path(entry), str(entry)):
            items.append(_item(file, None, participant_id))
    return items


def read_pose_manifest(manifest: str | Path, participant_id: int | None = None) -> list[ImportItem]:
    """The ``.pose`` files a manifest lists (each ``path`` a file or a folder of them).

    Raises:
        DataError: a bad manifest or a path that is no ``.pose`` file, naming the row.
    """
    items = []
    for row in read_import_manifest(manifest):
        pid = row.participant_id if row.participant_id is not None else participant_id
        for file in _files(row.path, f"{manifest}: row {row.row}: {row.entry}"):
            items.append(_item(file, row.sign, pid))
    return items


def load_pose_recording(item: ImportItem) -> Recording:
    """The Kaggle frames of a ``.pose`` item (the batch runner's ``load``).

    Raises:
        RecordingError: the file cannot be read or holds no Holistic landmarks.
        PoseFormatMissingError: ``pose-format`` is not installed (ends the run).
    """
    try:
        return Recording(read_pose_file(item.source).frames)
    except PoseFileError as exc:
        raise RecordingError(str(exc).removeprefix(f"{item.source}: ")) from None
