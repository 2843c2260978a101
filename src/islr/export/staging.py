"""Publishing an export atomically: written in a temporary sibling, moved into place by rename.

A failed or killed export leaves the previous export byte for byte (or no directory at all),
never half of a new one.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from islr.run_layout import REPORT_JSON, ExportLayout

__all__ = ["check_out_dir", "staged_directory"]


def check_out_dir(out_dir: Path) -> None:
    """Refuse to replace a directory that is not a previous islr export.

    Raises:
        FileExistsError: ``out_dir`` is a file, or a non-empty directory without a report.
    """
    if out_dir.exists():
        if not out_dir.is_dir():
            raise FileExistsError(f"{out_dir}: exists and is not a directory")
        if any(out_dir.iterdir()) and not ExportLayout(out_dir).report_json.is_file():
            raise FileExistsError(
                f"{out_dir}: exists, is not empty and holds no {REPORT_JSON} "
                "(not a previous export); choose another out_dir"
            )


@contextmanager
def staged_directory(out_dir: Path) -> Iterator[ExportLayout]:
    """A temporary export directory beside ``out_dir`` that becomes ``out_dir`` on success.

    On leaving the block normally, a previous ``out_dir`` (checked by :func:`check_out_dir`)
    is set aside by a rename, the new directory renamed into place and the old one deleted.
    On an exception (or a kill) the temporary directory is removed and ``out_dir`` is left as
    it was.
    """
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; the export is an ordinary directory
    previous: Path | None = None
    try:
        yield ExportLayout(tmp)
        if out_dir.exists():
            # Set the previous export aside (a rename) rather than delete it first: a failure
            # or a kill at any moment leaves the old export or the new one, never neither.
            previous = out_dir.with_name(f".{out_dir.name}.previous-{tmp.name[-8:]}")
            out_dir.rename(previous)
        tmp.rename(out_dir)
    except BaseException:
        if previous is not None and not out_dir.exists():
            previous.rename(out_dir)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if previous is not None:
        shutil.rmtree(previous, ignore_errors=True)
