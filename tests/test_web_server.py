"""islr-serve-web's static server: real HTTP requests to a real server on 127.0.0.1.

Ranges (Chromium seeks a video only with 206 answers), content types (wasm compiles in
streaming mode only as application/wasm), nothing served outside the root, and the command's
errors and Ctrl-C.
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from islr.web_server import WebServer, find_web_dir

pytestmark = pytest.mark.xdist_group(name="test_web_server")

PAYLOAD = bytes(range(256)) * 40  # 10240 bytes, every offset distinguishable mod 256


def _make_site(tmp_path: Path) -> Path:
    """``<tmp>/export/web`` with files of every served type, a secret beside the export."""
    web = tmp_path / "export" / "web"
    (web / "vendor" / "litert" / "wasm").mkdir(parents=True)
    (web / "index.html").write_text("<!doctype html><title>islr</title>")
    (web / "model.tflite").write_bytes(PAYLOAD)
    for name in ("app.js", "worker.mjs", "x.wasm", "g.binarypb", "a.data", "model.json"):
        (web / name).write_bytes(b"0123456789")
    (web / "vendor" / "litert" / "wasm" / "litert.wasm").write_bytes(b"\0asm")
    (web / "empty_dir").mkdir()
    (tmp_path / "export" / "report.json").write_text("{}")
    (tmp_path / "secret.txt").write_text("not for the browser")
    (web / "escape").symlink_to(tmp_path / "secret.txt")
    media = tmp_path / "videos"
    media.mkdir()
    (media / "clip.mp4").write_bytes(PAYLOAD[:1000])
    return web


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    return _make_site(tmp_path_factory.mktemp("site"))


@pytest.fixture(scope="module")
def server(site: Path):
    with WebServer(site, port=0, mounts={"media": site.parents[1] / "videos"}) as running:
        yield running


def _get(server: WebServer, path: str, headers: dict | None = None, method: str = "GET"):
    host, port = server.url.split("//")[1].rstrip("/").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.putrequest(method, path, skip_accept_encoding=True)  # the path is sent as is
    for key, value in (headers or {}).items():
        conn.putheader(key, value)
    conn.endheaders()
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response, body


def test_full_get(server) -> None:
    response, body = _get(server, "/model.tflite")
    assert response.status == 200
    assert body == PAYLOAD
    assert response.getheader("Content-Length") == str(len(PAYLOAD))
    assert response.getheader("Accept-Ranges") == "bytes"
    assert server.url.startswith("http://127.0.0.1:")


def test_root_serves_index_html(server) -> None:
    response, body = _get(server, "/")
    assert response.status == 200 and body.startswith(b"<!doctype html>")
    assert response.getheader("Content-Type").startswith("text/html")


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=10-19", 10, 19),
        ("bytes=10000-", 10000, len(PAYLOAD) - 1),
        ("bytes=-5", len(PAYLOAD) - 5, len(PAYLOAD) - 1),
        ("bytes=-99999", 0, len(PAYLOAD) - 1),  # a suffix longer than the file: all of it
        ("bytes=5000-99999", 5000, len(PAYLOAD) - 1),  # an end past the file is cut
        ("bytes=0-0", 0, 0),
    ],
)
def test_range_get(server, header, first, last) -> None:
    response, body = _get(server, "/model.tflite", {"Range": header})
    assert response.status == 206
    assert body == PAYLOAD[first : last + 1]
    assert response.getheader("Content-Range") == f"bytes {first}-{last}/{len(PAYLOAD)}"
    assert response.getheader("Content-Length") == str(last - first + 1)
    assert response.getheader("Accept-Ranges") == "bytes"


@pytest.mark.parametrize("header", [f"bytes={len(PAYLOAD)}-", "bytes=20-10", "bytes=-0"])
def test_unsatisfiable_range_is_416(server, header) -> None:
    response, body = _get(server, "/model.tflite", {"Range": header})
    assert response.status == 416
    assert response.getheader("Content-Range") == f"bytes */{len(PAYLOAD)}"
    assert body == b""


def test_range_on_a_mounted_video(server) -> None:
    response, body = _get(server, "/media/clip.mp4", {"Range": "bytes=100-199"})
    assert response.status == 206 and body == PAYLOAD[100:200]
    assert response.getheader("Content-Type") == "video/mp4"


@pytest.mark.parametrize(
    ("path", "mime"),
    [
        ("/app.js", "text/javascript"),
        ("/worker.mjs", "text/javascript"),
        ("/x.wasm", "application/wasm"),
        ("/vendor/litert/wasm/litert.wasm", "application/wasm"),
        ("/model.tflite", "application/octet-stream"),
        ("/g.binarypb", "application/octet-stream"),
        ("/a.data", "application/octet-stream"),
        ("/model.json", "application/json"),
    ],
)
def test_content_types(server, path, mime) -> None:
    response, _ = _get(server, path, method="HEAD")
    assert response.status == 200
    assert response.getheader("Content-Type").split(";")[0] == mime


def test_head_sends_no_body(server) -> None:
    response, body = _get(server, "/model.tflite", method="HEAD")
    assert response.status == 200 and body == b""
    assert response.getheader("Content-Length") == str(len(PAYLOAD))


@pytest.mark.parametrize(
    "path",
    [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/vendor/../../secret.txt",
        "/..%2fsecret.txt",
        "/escape",  # a symbolic link out of the root
        "/empty_dir/",  # no directory listing
        "/vendor/",
        "/missing.js",
        "/media/../web/index.html",
    ],
)
def test_nothing_outside_the_root(server, path) -> None:
    response, body = _get(server, path)
    assert response.status == 404, path
    assert b"not for the browser" not in body


def test_find_web_dir_accepts_export_web_or_run(tmp_path: Path) -> None:
    site = _make_site(tmp_path)
    export = site.parent
    assert find_web_dir(site) == site
    assert find_web_dir(export) == site
    run = export.parent
    (run / "export").rename(run / "export_tmp")
    (run / "run" / "export").parent.mkdir()
    (run / "export_tmp").rename(run / "run" / "export")
    assert find_web_dir(run / "run") == run / "run" / "export" / "web"


def _cli(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "islr.cli.serve_web", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


@pytest.mark.parametrize("which", ["missing", "no_web"])
def test_cli_without_an_app_is_one_line_and_exit_1(tmp_path: Path, which: str) -> None:
    target = tmp_path / "nope"
    if which == "no_web":
        target.mkdir()
        (target / "report.json").write_text("{}")
    proc = _cli(str(target))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"islr-serve-web: error: {target}: ")
    assert "Traceback" not in err


def test_cli_serves_until_ctrl_c(site: Path) -> None:
    proc = _cli(str(site.parent), "--port", "0")
    try:
        line = proc.stdout.readline()
        assert " at http://127.0.0.1:" in line, line
        url = line.split(" at ")[1].split()[0]
        host, port = url.split("//")[1].rstrip("/").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.request("GET", "/index.html")
        assert conn.getresponse().read().startswith(b"<!doctype html>")
        conn.close()
        os.kill(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill() if proc.poll() is None else None
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert "stopped" in out
