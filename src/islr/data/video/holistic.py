"""Client side of the Holistic worker: runs ``holistic_worker.py`` in the extraction environment.

:class:`HolisticProcess` turns one video into ``[T, 543, 3]`` landmarks; :func:`stream_frames`
yields the landmarks of a live source (camera or file) frame by frame.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from islr.data.video.environment import ensure_python, worker_script
from islr.landmarks import N_LANDMARKS

__all__ = [
    "ClipLandmarks",
    "HolisticProcess",
    "HolisticSettings",
    "HolisticStream",
    "stream_frames",
]

_FRAME_BYTES = N_LANDMARKS * 3 * 4


def _worker_env() -> dict[str, str]:
    # MediaPipe's C++ logging is chatty (a few lines per clip); keep warnings and errors only.
    return dict(os.environ, GLOG_minloglevel="1", TF_CPP_MIN_LOG_LEVEL="2")


def _last_line(log_file) -> str:
    """The last non-empty line a worker wrote to its log (its reason for dying)."""
    log_file.seek(0)
    lines = [ln for ln in log_file.read().decode(errors="replace").splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def _stop_worker(proc: subprocess.Popen, terminate: bool) -> None:
    """Close the worker's stdin (so it can finish), end it if asked, and reap it."""
    if proc.stdin is not None and not proc.stdin.closed:
        with contextlib.suppress(OSError):
            proc.stdin.close()
    if terminate and proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


@dataclass(frozen=True)
class HolisticSettings:
    """How frames are taken from a video and what Holistic runs.

    Attributes:
        stride: keep every ``stride``-th decoded frame (1 = every frame, as in the Kaggle data).
        max_frames: stop after this many kept frames (None = the whole clip).
        mirror: flip each frame horizontally first (e.g. selfie-camera footage, or to make a
            left-handed signer look right-handed).
        model_complexity: Holistic's pose model (only 1 is bundled offline).
    """

    stride: int = 1
    max_frames: int | None = None
    mirror: bool = False
    model_complexity: int = 1

    def __post_init__(self) -> None:
        if self.stride < 1:
            raise ValueError(f"stride must be >= 1, got {self.stride}")
        if self.max_frames is not None and self.max_frames < 1:
            raise ValueError(f"max_frames must be >= 1, got {self.max_frames}")
        if self.model_complexity not in (0, 1, 2):
            raise ValueError(f"model_complexity must be 0, 1 or 2, got {self.model_complexity}")

    def worker_args(self) -> list[str]:
        args = ["--model-complexity", str(self.model_complexity)]
        return [*args, "--mirror"] if self.mirror else args


@dataclass
class ClipLandmarks:
    """The outcome of one video: landmarks, or why there are none."""

    video: Path
    frames: np.ndarray | None = None  # [T, 543, 3] float32, NaN where nothing was detected
    frame_numbers: list[int] = field(default_factory=list)
    decoded: int = 0
    seconds: float = 0.0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.frames is not None


class HolisticProcess:
    """One long-lived worker process (MediaPipe loads once, a fresh tracker per clip).

    A worker that dies (a decoder crash on a corrupt file) is reported as that clip's error and
    restarted for the next clip.
    """

    def __init__(self, settings: HolisticSettings | None = None) -> None:
        self.settings = settings or HolisticSettings()
        self._python = ensure_python()
        self._proc: subprocess.Popen | None = None
        self._log = None

    def _start(self) -> subprocess.Popen:
        cmd = [str(self._python), str(worker_script()), *self.settings.worker_args()]
        # The worker's log goes to a file, not a pipe: an unread pipe fills up and blocks it.
        if self._log is not None:
            self._log.close()
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the worker)
        return subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=_worker_env(),
        )

    def _stderr_tail(self, proc: subprocess.Popen) -> str:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        return _last_line(self._log) if self._log is not None else ""

    def extract(self, video: str | Path) -> ClipLandmarks:
        """Landmarks of one video (never raises for a bad video: see ``error``)."""
        video = Path(video)
        if self._proc is None or self._proc.poll() is not None:
            self._proc = self._start()
        proc = self._proc
        request = {
            "video": str(video.resolve()),
            "stride": self.settings.stride,
            "max_frames": self.settings.max_frames,
        }
        try:
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write((json.dumps(request) + "\n").encode())
            proc.stdin.flush()
            line = proc.stdout.readline()
        except (BrokenPipeError, OSError):
            line = b""
        if not line:
            self._proc = None
            why = self._stderr_tail(proc)
            if proc.returncode not in (None, 0) and "model_complexity" in why:
                raise ValueError(why)
            return ClipLandmarks(
                video, error=f"extraction process died (exit {proc.returncode}): {why}"
            )
        header = json.loads(line)
        if not header["ok"]:
            return ClipLandmarks(video, error=header["reason"])
        count = int(header["frames"])
        data = proc.stdout.read(count * _FRAME_BYTES)
        if len(data) != count * _FRAME_BYTES:
            self._proc = None
            return ClipLandmarks(video, error="extraction process died mid-clip")
        frames = np.frombuffer(data, dtype=np.float32).reshape(count, N_LANDMARKS, 3).copy()
        return ClipLandmarks(
            video,
            frames=frames,
            frame_numbers=[int(n) for n in header["frame_numbers"]],
            decoded=int(header["decoded"]),
            seconds=float(header["seconds"]),
        )

    def close(self) -> None:
        """End the worker (also done when the object is used as a context manager)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        _stop_worker(proc, terminate=False)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> HolisticProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class HolisticStream:
    """``(frame number, landmarks [543, 3])`` for each frame of a camera index or a video file.

    Frames come as the source delivers them. With ``show`` (a window; needs a GUI build of
    OpenCV in the extraction environment) or ``record`` (a video file), the worker also draws
    each frame with its landmarks and the latest :meth:`caption`. Closing (or leaving the
    ``with`` block, or breaking out of the iteration) ends the worker.

    Raises (while iterating):
        ExtractionEnvironmentError: no extraction environment.
        ValueError: the source cannot be opened, or the worker failed.
    """

    def __init__(
        self,
        source: str | int,
        settings: HolisticSettings | None = None,
        *,
        show: bool = False,
        record: str | Path | None = None,
    ) -> None:
        settings = settings or HolisticSettings()
        cmd = [str(ensure_python()), str(worker_script()), *settings.worker_args()]
        cmd += ["--stream", str(source)]
        if show:
            cmd.append("--show")
        if record is not None:
            cmd += ["--record", str(Path(record).resolve())]
        self.source = source
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 (closed with the stream)
        self._proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=_worker_env(),
        )

    def caption(self, text: str) -> None:
        """Show ``text`` on the frames drawn from now on (``show`` / ``record``)."""
        stdin = self._proc.stdin
        if stdin is None or stdin.closed:
            return
        try:
            stdin.write((text.replace("\n", " ") + "\n").encode())
            stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # the worker has finished: nothing left to draw on

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        proc = self._proc
        assert proc.stdout is not None
        ended = False  # the source ended (not the consumer stopping early)
        try:
            while True:
                line = proc.stdout.readline()
                if not line:
                    ended = True
                    break
                number = int(json.loads(line)["frame"])
                data = proc.stdout.read(_FRAME_BYTES)
                if len(data) != _FRAME_BYTES:
                    ended = True
                    break
                yield number, np.frombuffer(data, dtype=np.float32).reshape(N_LANDMARKS, 3).copy()
        finally:
            why = self.close(terminate=not ended)
        if proc.returncode != 0:
            raise ValueError(why or f"{self.source}: the stream ended with exit {proc.returncode}")

    def close(self, terminate: bool = True) -> str:
        """End the worker; returns the last line it logged (its reason, if it failed)."""
        _stop_worker(self._proc, terminate)  # a recording worker finishes its file first
        why = ""
        if not self._log.closed:
            why = _last_line(self._log)
            self._log.close()
        return why

    def __enter__(self) -> HolisticStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def stream_frames(
    source: str | int, settings: HolisticSettings | None = None
) -> Iterator[tuple[int, np.ndarray]]:
    """The frames of :class:`HolisticStream` (no drawing)."""
    yield from HolisticStream(source, settings)
