"""A local static server for an export's browser app (``islr-serve-web``).

Browsers need more than ``python -m http.server`` gives: Chromium seeks a ``<video>`` only
when the server answers HTTP Range requests (``206 Partial Content``), and a ``.wasm`` file
compiles in streaming mode only when served as ``application/wasm``. This server does both,
serves files under its root and nothing else (no directory listing, no path outside the
root), and runs in a thread so tests can start and stop it. Standard library only: it needs
neither TensorFlow nor the model.
"""

from __future__ import annotations

import logging
import re
import threading
import urllib.parse
from collections.abc import Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

__all__ = ["MIME_TYPES", "WEB_DIR", "WebServer", "find_web_dir"]

log = logging.getLogger(__name__)

WEB_DIR = "web"
"""The browser app's folder inside an export directory."""

MIME_TYPES: dict[str, str] = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".wasm": "application/wasm",
    ".tflite": "application/octet-stream",
    ".binarypb": "application/octet-stream",
    ".data": "application/octet-stream",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".svg": "image/svg+xml",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".mov": "video/quicktime",
    ".y4m": "application/octet-stream",
}
"""Content type by file suffix; anything else is ``application/octet-stream``."""
_DEFAULT_TYPE = "application/octet-stream"

_CHUNK = 1 << 16
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def find_web_dir(path: str | Path) -> Path:
    """The app folder behind ``path``: itself, ``<export>/web`` or ``<run>/export/web``.

    Raises:
        FileNotFoundError: ``path`` does not exist, or holds no app (naming what was looked
            for and how to get it).
    """
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such export directory")
    for candidate in (path, path / WEB_DIR, path / "export" / WEB_DIR):
        if (candidate / "index.html").is_file():
            return candidate
    raise FileNotFoundError(
        f"{path}: no browser app here (looked for index.html in it, in {WEB_DIR}/ and in "
        f"export/{WEB_DIR}/); export with the npm packages installed (`make install`), "
        "then run islr-export again"
    )


def _byte_range(header: str, size: int) -> tuple[int, int] | None:
    """``(first, last)`` of a single ``bytes=`` range; ``None``: ignore the header (serve all).

    Raises:
        ValueError: the range is well-formed but not satisfiable (answered with 416).
    """
    match = _RANGE.fullmatch(header.strip())
    if match is None:  # several ranges or another unit: RFC 9110 allows serving the whole file
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # a suffix: the last N bytes
        length = int(last)
        if length == 0 or size == 0:
            raise ValueError("empty suffix range")
        return max(0, size - length), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or (last and int(last) < start):
        raise ValueError(f"range {header!r} outside a {size}-byte file")
    return start, end


class _Handler(BaseHTTPRequestHandler):
    """GET/HEAD of files under the server's mounts, with single byte ranges."""

    server_version = "islr-serve-web"
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        self._serve(body=True)

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def _serve(self, body: bool) -> None:
        path = self._resolve(urllib.parse.urlsplit(self.path).path)
        if path is None:
            self._error(HTTPStatus.NOT_FOUND)
            return
        size = path.stat().st_size
        status, first, last = HTTPStatus.OK, 0, size - 1
        header = self.headers.get("Range")
        if header:
            try:
                wanted = _byte_range(header, size)
            except ValueError:
                self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if wanted is not None:
                status, (first, last) = HTTPStatus.PARTIAL_CONTENT, wanted
        self.send_response(status)
        self.send_header("Content-Type", MIME_TYPES.get(path.suffix.lower(), _DEFAULT_TYPE))
        self.send_header("Content-Length", str(last - first + 1))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Cache-Control", "no-cache")
        if status == HTTPStatus.PARTIAL_CONTENT:
            self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
        self.end_headers()
        if body:
            self._copy(path, first, last - first + 1)

    def _resolve(self, url_path: str) -> Path | None:
        """The file a URL path names under one of the mounts; ``None``: not servable."""
        parts = [p for p in urllib.parse.unquote(url_path).split("/") if p]
        if any(p in (".", "..") or "\\" in p or "\0" in p for p in parts):
            return None
        for prefix, root in self.server.mounts:
            if parts[: len(prefix)] != prefix:
                continue
            candidate = root.joinpath(*parts[len(prefix) :])
            if candidate.is_dir():
                candidate = candidate / "index.html"
            try:
                resolved = candidate.resolve(strict=True)
            except (OSError, RuntimeError):
                return None
            # Symbolic links that leave the root are refused like ``..``.
            if resolved.is_file() and resolved.is_relative_to(root):
                return resolved
            return None
        return None

    def _copy(self, path: Path, offset: int, count: int) -> None:
        try:
            with path.open("rb") as handle:
                handle.seek(offset)
                while count > 0:
                    chunk = handle.read(min(_CHUNK, count))
                    if not chunk:
                        break
                    self.wfile.write(chunk)
                    count -= len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # a video seek aborts the previous request: normal, not an error

    def _error(self, status: HTTPStatus) -> None:
        body = f"{status.value} {status.phrase}\n".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    mounts: list[tuple[list[str], Path]]


class WebServer:
    """Serve ``root`` (and optional extra folders) over HTTP on ``host:port`` from a thread.

    Args:
        root: the folder served at ``/`` (an export's ``web/``).
        host: the address to listen on (``127.0.0.1``: this machine only).
        port: the port (``0``: any free one; see :attr:`url`).
        mounts: URL prefix -> folder for extra folders, e.g. ``{"media": videos_dir}`` serves
            ``videos_dir`` at ``/media/``.

    Use as a context manager, or :meth:`start` / :meth:`stop`.

    Raises:
        FileNotFoundError: ``root`` or a mounted folder is not a directory.
        OSError: the port is taken.
    """

    def __init__(
        self,
        root: str | Path,
        host: str = "127.0.0.1",
        port: int = 8000,
        mounts: Mapping[str, str | Path] | None = None,
    ) -> None:
        folders = [([], Path(root))]
        for prefix, folder in (mounts or {}).items():
            folders.append(([p for p in prefix.split("/") if p], Path(folder)))
        for _, folder in folders:
            if not folder.is_dir():
                raise FileNotFoundError(f"{folder}: no such directory to serve")
        # Longest prefix first, so /media/ is not looked up under the root.
        folders.sort(key=lambda item: -len(item[0]))
        self._server = _Server((host, port), _Handler)
        self._server.mounts = [(prefix, folder.resolve()) for prefix, folder in folders]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The root URL, e.g. ``http://127.0.0.1:8000/``."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/"

    def start(self) -> WebServer:
        """Start answering requests in a background thread."""
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="islr-serve-web", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Answer requests in this thread until :meth:`stop` (or ``KeyboardInterrupt``)."""
        self._server.serve_forever()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> WebServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
