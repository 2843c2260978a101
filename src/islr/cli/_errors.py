"""How islr's commands end: a known error is one line on stderr and exit status 1.

One mapping (:func:`error_line`) from islr's known error types to that line, used by both kinds
of entry point: :func:`run_command` for the argparse commands (``--verbose`` shows the
traceback instead) and :func:`run_hydra_task` for the Hydra ones (``HYDRA_FULL_ERROR=1`` shows
it). Any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import re
import sys
import tempfile
from collections.abc import Callable
from typing import TypeVar

from omegaconf import DictConfig
from omegaconf.errors import MissingMandatoryValue

from islr.errors import (
    ConfigError,
    DataError,
    DivergenceError,
    ExportAfterTrainingError,
    ExportError,
    NonFiniteWeightsError,
)

T = TypeVar("T")

_STARTUP_NOISE = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|I\d{4} [\d:.]+ +\d+ port\.cc:\d+\] oneDNN custom operations are on"
)
"""TensorFlow's native notices at import, printed before its logging reads
``TF_CPP_MIN_LOG_LEVEL`` (so that setting cannot hide them)."""


def error_line(err: BaseException) -> str | None:
    """The one line a command prints for ``err`` (after ``<prog>: ``); ``None``: not a known error.

    Known errors are islr's own types, a missing mandatory config value, other ``ValueError``s
    (bad arguments) and ``OSError``s (files); the messages name the file or key.
    """
    if isinstance(err, MissingMandatoryValue):
        key = err.full_key or "a value"
        return f"configuration error: {key} is required: set {key}=... on the command line"
    if isinstance(err, ConfigError):
        return f"configuration error: {err}"
    if isinstance(err, DataError):
        return f"data error: {err}"
    if isinstance(err, (DivergenceError, NonFiniteWeightsError)):
        return str(err)  # these messages say what happened and what to try
    if isinstance(err, ExportAfterTrainingError):
        return f"export failed (the run is kept in {err.run_dir}): {err}"
    if isinstance(err, ExportError):
        return f"export failed: {err}"
    if isinstance(err, OSError):
        if err.filename is None:  # raised with islr's own message, which names the file
            return f"error: {err}"
        other = "" if err.filename2 is None else f" -> {err.filename2}"
        return f"error: {err.filename}{other}: {err.strerror or err}"
    if isinstance(err, ValueError):
        return f"error: {err}"
    return None


def run_command(
    prog: str, run: Callable[[argparse.Namespace], int], args: argparse.Namespace
) -> int:
    """Set up logging (``args.quiet``), run ``run(args)`` and turn a known error into one line.

    A known error (:func:`error_line`) prints ``<prog>: <line>`` on stderr and returns 1;
    ``args.verbose`` re-raises it with the traceback instead.
    """
    logging.basicConfig(
        level=logging.WARNING if getattr(args, "quiet", False) else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return run(args)
    except Exception as err:
        line = error_line(err)
        if line is None or getattr(args, "verbose", False):
            raise
        print(f"{prog}: {line}", file=sys.stderr)
        return 1


def run_hydra_task(prog: str, task: Callable[[DictConfig], T], cfg: DictConfig) -> T:
    """Run a Hydra command's ``task(cfg)``; a known error ends the process with one line.

    The line (``<prog>: ...``, :func:`error_line`) goes to stderr with exit status 1, and to the
    job's log file. With ``HYDRA_FULL_ERROR=1`` the error propagates instead, and Hydra prints
    its traceback.
    """
    try:
        return task(cfg)
    except Exception as err:
        line = error_line(err)
        if line is None or os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        logging.getLogger("islr").error("%s", line)
        raise SystemExit(f"{prog}: {line}") from None


def runs_a_task(argv: list[str]) -> bool:
    """Whether a Hydra command line runs its task, rather than only printing help or the
    config (``--help``, ``--hydra-help``, ``--cfg``, ``--info``, ``--shell-completion``)."""
    info = {"-h", "--help", "--hydra-help", "-c", "--cfg", "-i", "--info", "-sc"}
    return not any(arg in info or arg.startswith("--shell-completion") for arg in argv)


def start_hydra_command(hydra_main: Callable[[], T]) -> T:
    """Run a ``@hydra.main`` function as a console script.

    When the command line runs a task (:func:`runs_a_task`), Keras and TensorFlow are imported
    first, quietly (:func:`import_quietly`): a command's one-line error is not buried under
    TensorFlow's start-up notices. ``--help`` and ``--cfg`` stay fast, without TensorFlow.
    """
    if runs_a_task(sys.argv[1:]):
        import_quietly("keras")
    return hydra_main()


def import_quietly(module: str) -> None:
    """Import ``module`` (``"keras"``: TensorFlow too) without TensorFlow's native start-up notices.

    TensorFlow's C++ libraries write them to file descriptor 2 while they load, before
    ``TF_CPP_MIN_LOG_LEVEL`` applies; they would bury a command's one-line error. Everything
    else written to stderr meanwhile (warnings, errors) is written out afterwards.
    """
    if module in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with tempfile.TemporaryFile() as captured:
            os.dup2(captured.fileno(), 2)
            try:
                importlib.import_module(module)
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
                captured.seek(0)
                text = captured.read().decode(errors="replace")
                kept = [
                    line
                    for line in text.splitlines(keepends=True)
                    if not _STARTUP_NOISE.match(line)
                ]
                if kept:
                    sys.stderr.write("".join(kept))
                    sys.stderr.flush()
    finally:
        os.close(saved)
