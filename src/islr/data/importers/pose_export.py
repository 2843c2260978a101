"""Kaggle-layout landmark files -> ``.pose`` files, so islr's landmarks open in the
sign-language-processing ecosystem's tools (``pose-format``'s viewers and loaders).

A data root (``train.csv``) becomes ``<out>/<participant_id>/<sign>/<sequence_id>.pose``: the
layout ``islr-import pose`` reads back with the same signs and signers. A single parquet file
becomes ``<out>/<name>.pose``. Finished files are not rewritten (a rerun resumes); a landmark
file that cannot be read is reported and skipped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from islr.data._util import progress as progress_bar
from islr.data.importers.pose_dataset import POSE_SUFFIX
from islr.data.importers.pose_file import pose_format, write_pose_file
from islr.data.reader import (
    TRAIN_CSV_FILENAME,
    DataError,
    LandmarkFileError,
    read_landmark_file,
    read_train_csv,
    resolve_path,
)

__all__ = ["PoseExportReport", "export_pose_files"]


@dataclass
class PoseExportReport:
    """What one export run did."""

    out: Path
    files: int  # landmark files in the work list
    written: int = 0
    already_done: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (landmark file, reason)
    seconds: float = 0.0

    def __str__(self) -> str:
        return (
            f"wrote {self.written} of {self.files} .pose file(s) in {self.seconds:.1f} s, "
            f"{self.already_done} already done, {len(self.skipped)} skipped, into {self.out}"
        )


def _folder_name(sign: str) -> str:
    """A sign as a folder name (a path separator in a sign would make two folders)."""
    return sign.replace("/", "_").replace("\\", "_")


def _work_list(src: Path, out: Path) -> list[tuple[Path, Path]]:
    if src.is_file() and src.suffix == ".parquet":
        return [(src, out / f"{src.stem}{POSE_SUFFIX}")]
    if src.is_dir() and (src / TRAIN_CSV_FILENAME).is_file():
        table = read_train_csv(src)
        return [
            (
                resolve_path(src, row.path),
                out / str(row.participant_id) / _folder_name(row.sign)
                / f"{row.sequence_id}{POSE_SUFFIX}",
            )
            for row in table.itertuples(index=False)
        ]  # fmt: skip
    raise DataError(f"{src}: neither a data root (with {TRAIN_CSV_FILENAME}) nor a .parquet file")


def export_pose_files(
    src: str | Path,
    out: str | Path,
    *,
    width: int,
    height: int,
    fps: float,
    progress: bool = True,
) -> PoseExportReport:
    """Write the landmark files of ``src`` (a data root or one parquet file) as ``.pose`` files
    under ``out``, for a ``width × height`` image at ``fps`` frames per second.

    Raises:
        PoseFormatMissingError: ``pose-format`` is not installed.
        DataError: ``src`` is neither a data root nor a parquet file, or its ``train.csv`` is bad.
        ValueError: a size or rate that is not positive.
    """
    t0 = time.perf_counter()
    if width <= 0 or height <= 0 or fps <= 0:
        raise ValueError(f"image size {width}×{height} and fps {fps} must be positive")
    pose_format()  # a missing package is one clear error, before any work
    src, out = Path(src), Path(out)
    work = _work_list(src, out)
    report = PoseExportReport(out=out, files=len(work))
    todo = [(parquet, target) for parquet, target in work if not target.is_file()]
    report.already_done = len(work) - len(todo)
    bar = progress_bar(len(todo), progress, "to-pose")
    for parquet, target in todo:
        try:
            frames = read_landmark_file(parquet)
        except LandmarkFileError as exc:
            report.skipped.append((str(parquet), str(exc)))
        else:
            write_pose_file(target, frames, width=width, height=height, fps=fps)
            report.written += 1
        bar.update(1)
    bar.close()
    report.seconds = time.perf_counter() - t0
    return report
