"""Arguments that several argparse commands share, so that they are spelled and read alike."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_verbosity(parser: argparse.ArgumentParser, quiet: str) -> None:
    """``-q/--quiet`` (help text ``quiet``) and ``--verbose``, which
    :func:`~islr.cli._errors.run_command` reads: ``--quiet`` logs warnings only, ``--verbose``
    shows the traceback of a known error instead of its one line."""
    parser.add_argument("-q", "--quiet", action="store_true", help=quiet)
    parser.add_argument("--verbose", action="store_true", help="show tracebacks of errors")


def add_work_list(
    parser: argparse.ArgumentParser,
    *,
    inputs: str,
    out: str,
    out_required: bool,
    manifest_columns: str,
) -> None:
    """The arguments of a command that writes a data root from recordings: INPUTS (files and
    folders, ``inputs`` says which), ``--out`` (the data root) and ``--manifest`` (a CSV with
    ``manifest_columns``)."""
    parser.add_argument("inputs", nargs="*", type=Path, help=f"{inputs} (searched recursively)")
    parser.add_argument("--out", type=Path, required=out_required, help=out)
    parser.add_argument("--manifest", type=Path, help=f"CSV with columns {manifest_columns}")
