"""The manifest CSV of an import: which recordings, and optionally their signs and signers.

Columns: ``path`` (required; relative paths are relative to the manifest's folder), ``sign`` and
``participant_id`` (optional; an empty cell means "from the folders", as without a manifest).
What a ``path`` may name is the importer's business (an MP_Data sequence or sign folder, a
``.pose`` file or a folder of them).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from islr.data.batch_run import read_csv_cells
from islr.data.reader import DataError

__all__ = ["ManifestRow", "read_import_manifest"]


@dataclass(frozen=True)
class ManifestRow:
    """One row of an import manifest."""

    path: Path  # where it is (resolved against the manifest's folder)
    entry: str  # the ``path`` cell as written
    sign: str | None
    participant_id: int | None
    row: int  # line number in the file (the header is line 1)


def read_import_manifest(manifest: str | Path) -> list[ManifestRow]:
    """The rows of ``manifest``.

    Raises:
        DataError: a missing file or ``path`` column, an empty path, a participant id that is
            not an integer or no rows, naming the manifest and the row.
    """
    manifest = Path(manifest)
    if not manifest.is_file():
        raise DataError(f"{manifest}: manifest not found")
    df = read_csv_cells(manifest, ["path"])
    rows = []
    for row, rec in enumerate(df.to_dict("records"), start=2):
        entry = str(rec["path"]).strip()
        if not entry:
            raise DataError(f"{manifest}: row {row}: empty path")
        path = Path(entry)
        if not path.is_absolute():
            path = manifest.parent / path
        sign = str(rec.get("sign", "")).strip() or None
        pid_text = str(rec.get("participant_id", "")).strip()
        if pid_text and not pid_text.lstrip("-").isdigit():
            raise DataError(f"{manifest}: row {row}: participant_id {pid_text!r} is not an integer")
        rows.append(ManifestRow(path, entry, sign, int(pid_text) if pid_text else None, row))
    if not rows:
        raise DataError(f"{manifest}: no rows")
    return rows
