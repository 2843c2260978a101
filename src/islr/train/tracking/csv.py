"""``logger=csv``: the run directory's own files."""

from __future__ import annotations

from islr.train.tracking.base import RunLogger

__all__ = ["CSVLogger"]


class CSVLogger(RunLogger):
    """The run directory's own files: ``metrics.csv`` (a row per epoch), ``metrics.json`` and
    the plots. Every run writes them (resume and the reports read them), so this logger adds
    nothing: it names the default in ``conf/logger/csv.yaml``."""
