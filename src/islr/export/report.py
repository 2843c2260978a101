"""What an export wrote and measured: ``report.json`` and the ``report.md`` table."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from islr.run_layout import INFERENCE_KERAS, SUBMISSION

__all__ = ["ExportReport", "ExportedFile"]


@dataclass
class ExportedFile:
    """One file of an export and its measurements."""

    file: str
    size_bytes: int
    variant: str | None = None
    max_abs_diff: float | None = None
    tolerance: float | None = None
    argmax_agreement: bool | None = None
    median_latency_ms: float | None = None


@dataclass
class ExportReport:
    """Summary of an export, written as ``report.json`` and ``report.md``."""

    out_dir: str
    sources: list[str]
    num_classes: int
    max_len: int | None
    output: str
    submission_variant: str
    latency_frames: int
    files: list[ExportedFile]
    parity: list[dict]
    web: str | None = None
    """The browser app (``web/``): ``written (...)`` or ``skipped (why)``."""
    calibration: str | None = None
    """``calibration.json``: where it came from and its temperature and threshold, or
    ``none: why`` (the predictor then rejects nothing unless told a threshold)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_markdown(self) -> str:
        """README-ready table: file, size, parity error, median latency."""
        lines = [
            f"Export of {len(self.sources)} network(s), {self.num_classes} classes, "
            f"max_len {self.max_len}, scores = {self.output}. Submission: "
            f"`{SUBMISSION}` (`model.tflite` = {self.submission_variant}).",
            "",
            "| file | size | max abs score diff vs Keras (bound) | argmax agrees "
            f"| median latency, {self.latency_frames} frames, 1 thread |",
            "|---|---:|---:|:---:|---:|",
        ]
        for f in self.files:
            diff = "" if f.max_abs_diff is None else f"{f.max_abs_diff:.2e} ({f.tolerance:g})"
            agree = "" if f.argmax_agreement is None else ("yes" if f.argmax_agreement else "no")
            lat = "" if f.median_latency_ms is None else f"{f.median_latency_ms:.2f} ms"
            name = f"`{f.file}`" + (" (eager Keras call)" if f.file == INFERENCE_KERAS else "")
            lines.append(f"| {name} | {_human(f.size_bytes)} | {diff} | {agree} | {lat} |")
        if self.calibration is not None:
            lines += ["", f"calibration: {self.calibration}"]
        if self.web is not None:
            lines += ["", f"web: {self.web}"]
        return "\n".join(lines) + "\n"


def _human(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024
    return str(n)
