"""How islr's argparse commands end: a known error is one line on stderr and exit status 1."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable


def run_command(
    prog: str, run: Callable[[argparse.Namespace], int], args: argparse.Namespace
) -> int:
    """Set up logging (``args.quiet``), run ``run(args)`` and turn islr's errors into one line.

    Data, configuration and file-system errors (``ValueError``, which islr's ``DataError`` and
    ``ConfigError`` are, and ``OSError``) print ``<prog>: error: <message>`` and return 1;
    ``args.verbose`` re-raises them with the traceback instead.
    """
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return run(args)
    except (ValueError, OSError) as err:
        if getattr(args, "verbose", False):
            raise
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 1
