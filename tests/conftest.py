"""Shared fixtures: a tiny synthetic data set in the Kaggle layout, and its cache.

Both are session-scoped (made once per test process, ~2-3 s). Treat them as read-only; tests
that modify data must copy or make their own.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from islr.data import LandmarkCache, ensure_cache, generate_dataset
from islr.data.synthetic import PRESETS


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Data root of the ``tiny`` preset (10 signs, 5 participants, 4 clips each, seed 0)."""
    root = tmp_path_factory.mktemp("tiny_data")
    generate_dataset(root, seed=0, workers=1, progress=False, **PRESETS["tiny"])
    return root


@pytest.fixture(scope="session")
def tiny_cache(tiny_root: Path, tmp_path_factory: pytest.TempPathFactory) -> LandmarkCache:
    """Preprocessing cache of ``tiny_root`` (5 participant-grouped folds)."""
    return ensure_cache(
        tiny_root, tmp_path_factory.mktemp("tiny_cache"), workers=1, num_folds=5, progress=False
    )


# --- real data from ../shared/data (absent in a user's fresh clone: tests skip, visibly) -------
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
REAL_SAMPLE = SHARED_DATA / "asl-signs-sample"
REAL_VIDEOS = SHARED_DATA / "videos"


def require_shared(path: Path) -> Path:
    """``path`` if it exists, else skip the test saying what is missing."""
    if not path.exists():
        pytest.skip(f"real data not available: {path} is absent (it ships beside the repo in CI)")
    return path


@pytest.fixture(scope="session")
def real_sample_root() -> Path:
    """Data root of the 74 real Kaggle asl-signs files (``../shared/data/asl-signs-sample``)."""
    return require_shared(REAL_SAMPLE)


@pytest.fixture(scope="session")
def real_videos_dir() -> Path:
    """Folder of the 18 real signing clips, ``<sign>/<clip>.mp4`` (one is broken)."""
    return require_shared(REAL_VIDEOS)
