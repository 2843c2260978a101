"""``islr-serve-web``: serve an export's browser app on this machine.

Examples::

    islr-serve-web logs/demo/runs/<run>/export          # http://127.0.0.1:8000/
    islr-serve-web exports/X --port 8080
    islr-serve-web exports/X/web --media my_videos/      # my_videos/ at /media/
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from islr.cli._errors import run_command
from islr.web_server import WebServer, find_web_dir


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="islr-serve-web",
        description="Serve the browser app of an export (its web/ folder: webcam or video "
        "file -> landmarks -> top signs, all in the browser) over HTTP, with the Range "
        "requests browsers need to seek videos. Open the printed URL.",
    )
    p.add_argument(
        "export", help="an export directory, its web/ folder, or a run directory with export/"
    )
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: any free)")
    p.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: local)"
    )
    p.add_argument("--media", metavar="DIR", help="also serve this folder (videos) at /media/")
    p.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    p.add_argument("--verbose", action="store_true", help="show tracebacks of errors")
    return p


def run(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C."""
    web = find_web_dir(args.export)
    mounts = {"media": args.media} if args.media else None
    server = WebServer(web, host=args.host, port=args.port, mounts=mounts)
    print(f"serving {web} at {server.url} (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped", flush=True)
    finally:
        server.stop()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; exit status 1 when there is nothing to serve or the port is taken."""
    return run_command("islr-serve-web", run, _parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
