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
