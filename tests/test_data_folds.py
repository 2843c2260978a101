"""Participant-grouped folds."""

from __future__ import annotations

import numpy as np
import pytest

from islr.data import assign_folds
from islr.data.folds import split_by_fold


def _ids() -> np.ndarray:
    rng = np.random.default_rng(3)
    counts = rng.integers(20, 200, size=21)
    return np.repeat(rng.choice(np.arange(10000, 99999), 21, replace=False), counts)


def test_grouped_balanced_and_deterministic() -> None:
    pids = _ids()
    folds = assign_folds(pids, num_folds=5, seed=0)
    assert folds.dtype == np.int8 and folds.shape == pids.shape
    assert set(folds.tolist()) == set(range(5))
    for p in np.unique(pids):  # a participant never spans two folds
        assert len(np.unique(folds[pids == p])) == 1
    sizes = np.bincount(folds)
    biggest_participant = np.unique(pids, return_counts=True)[1].max()
    assert sizes.max() - sizes.min() <= biggest_participant
    np.testing.assert_array_equal(folds, assign_folds(pids, num_folds=5, seed=0))


def test_seed_breaks_ties() -> None:
    pids = np.repeat(np.arange(10), 7)  # all participants the same size
    assignments = {tuple(assign_folds(pids, 5, seed=s)) for s in range(6)}
    assert len(assignments) > 1
    for s in range(3):
        assert np.bincount(assign_folds(pids, 5, seed=s)).tolist() == [14] * 5


def test_too_few_participants() -> None:
    with pytest.raises(ValueError, match="3 participant"):
        assign_folds(np.array([1, 1, 2, 3]), num_folds=5)


def test_split_by_fold_holds_out_one_fold_or_none() -> None:
    folds = np.array([0, 1, 2, 1, 0], dtype=np.int8)
    train, val = split_by_fold(folds, 1, num_folds=3)
    assert train.tolist() == [0, 2, 4] and val.tolist() == [1, 3]
    everything, none = split_by_fold(folds, None, num_folds=3)
    assert everything.tolist() == [0, 1, 2, 3, 4] and none is None
    with pytest.raises(ValueError, match=r"0\.\.2"):
        split_by_fold(folds, 3, num_folds=3)
