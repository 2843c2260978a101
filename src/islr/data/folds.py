"""Cross-validation folds grouped by participant (a signer never spans two folds)."""

from __future__ import annotations

import numpy as np

__all__ = ["assign_folds", "split_by_fold"]


def assign_folds(participant_ids: np.ndarray, num_folds: int = 5, seed: int = 0) -> np.ndarray:
    """Fold number (int8, ``0..num_folds-1``) of every sample, grouped by participant.

    Participants are taken largest first (ties in a seeded random order) and each goes to the
    fold holding the fewest samples so far, which balances sample counts across folds.
    Deterministic for given ids, ``num_folds`` and ``seed``.

    Raises:
        ValueError: ``num_folds < 2`` or fewer participants than folds.
    """
    pids = np.asarray(participant_ids)
    if pids.ndim != 1:
        raise ValueError(f"participant_ids must be 1-D, got shape {pids.shape}")
    if num_folds < 2:
        raise ValueError(f"num_folds must be >= 2, got {num_folds}")
    unique, inverse, counts = np.unique(pids, return_inverse=True, return_counts=True)
    if len(unique) < num_folds:
        raise ValueError(
            f"cannot split {len(unique)} participant(s) into {num_folds} participant-grouped folds"
        )
    rng = np.random.default_rng(seed)
    shuffled = rng.permutation(len(unique))
    # Stable sort of the shuffled order by count (descending): the seed only breaks ties.
    order = shuffled[np.argsort(-counts[shuffled], kind="stable")]
    totals = np.zeros(num_folds, dtype=np.int64)
    fold_of = np.empty(len(unique), dtype=np.int8)
    for p in order:
        f = int(np.argmin(totals))  # first fold among the least filled
        fold_of[p] = f
        totals[f] += counts[p]
    return fold_of[inverse]


def split_by_fold(
    folds: np.ndarray, fold: int | None, num_folds: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """Sample indices ``(train, validation)`` holding out ``fold``'s participants.

    ``fold=None`` trains on every sample and has no validation side (``data.fold=all``).
    Either side may be empty when a fold holds every or no sample; callers decide whether
    that is an error.

    Raises:
        ValueError: ``fold`` not in ``0..num_folds-1``.
    """
    folds = np.asarray(folds)
    if fold is None:
        return np.arange(len(folds)), None
    if not 0 <= fold < num_folds:
        raise ValueError(f"fold must be in 0..{num_folds - 1}, got {fold}")
    held_out = folds == fold
    return np.flatnonzero(~held_out), np.flatnonzero(held_out)
