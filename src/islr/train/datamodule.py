"""The training data: the cache, one fold's train/validation split and their batch loaders.

:func:`load_split` makes sure the landmark cache exists for ``cfg.data`` and splits it by
``data.fold``; :func:`build_datasets` builds the loaders the fit runs on (the augmenter of
``cfg.augment``, this process's share of every batch in a multi-host run); :func:`make_dataset`
builds one loader (evaluation reuses it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig

from islr.errors import ConfigError
from islr.train.gather import count_valid_frames
from islr.train.multihost import HostGroup
from islr.train.pipeline import SequenceBatches
from islr.train.run_checks import parse_fold

__all__ = ["DataSplit", "TrainingData", "build_datasets", "load_split", "make_dataset"]


@dataclass
class DataSplit:
    """The cache and the sample indices of one fold's train/validation split."""

    cache: Any
    train_indices: np.ndarray
    val_indices: np.ndarray | None
    fold: int | None
    sign_map: dict[str, int]
    valid_lengths: np.ndarray

    @property
    def num_classes(self) -> int:
        return len(self.sign_map)

    @property
    def sign_names(self) -> list[str]:
        names = [""] * len(self.sign_map)
        for sign, idx in self.sign_map.items():
            names[int(idx)] = sign
        return names

    def describe(self) -> str:
        """``"N train / M val sequences, K classes, fold F"`` for the run log."""
        val = 0 if self.val_indices is None else len(self.val_indices)
        fold = "all" if self.fold is None else self.fold
        return (
            f"{len(self.train_indices)} train / {val} val sequences, {self.num_classes} classes, "
            f"fold {fold}"
        )


@dataclass
class TrainingData:
    """What the fit reads: the split, the augmenter and the train/validation loaders."""

    split: DataSplit
    augmenter: Any
    train: SequenceBatches
    val: SequenceBatches | None

    @property
    def validate(self) -> bool:
        """Whether the run has a validation split (``data.fold`` other than ``all``)."""
        return self.val is not None

    @property
    def steps_per_epoch(self) -> int:
        return len(self.train)


def load_split(cfg: DictConfig) -> DataSplit:
    """Ensure the cache exists for ``cfg.data`` and split it by ``data.fold``.

    Raises:
        ConfigError: no ``data.root``, a cache with another number of folds, an empty side.
    """
    from islr.data.cache import ensure_cache

    d = cfg.data
    root = Path(str(d.root))
    if not root.exists():
        raise ConfigError(
            f"data.root={root}: no such directory (generate demo data with "
            f"`islr-synth --out {root} --preset demo`)"
        )
    cache = ensure_cache(
        root,
        Path(str(d.cache_dir)),
        num_folds=int(d.num_folds),
        fold_seed=int(d.fold_seed),
        workers=d.preprocess_workers,
        rebuild=bool(d.rebuild_cache),
    )
    if int(cache.num_folds) != int(d.num_folds):
        raise ConfigError(
            f"data.num_folds={d.num_folds} but the cache in {d.cache_dir} has {cache.num_folds} "
            "folds (set data.rebuild_cache=true or another data.cache_dir)"
        )
    fold = parse_fold(d.fold, int(cache.num_folds))
    train_idx, val_idx = cache.split(fold)
    if val_idx is not None and len(val_idx) == 0:
        raise ConfigError(f"data.fold={fold}: the fold holds no sample")
    if len(train_idx) == 0:
        raise ConfigError(f"data.fold={fold}: nothing left to train on")
    sign_map = {str(k): int(v) for k, v in dict(cache.sign_map).items()}
    return DataSplit(
        cache=cache,
        train_indices=train_idx,
        val_indices=val_idx,
        fold=fold,
        sign_map=sign_map,
        valid_lengths=count_valid_frames(cache),
    )


def make_dataset(
    cfg: DictConfig,
    split: DataSplit,
    *,
    training: bool,
    augmenter: Any = None,
    initial_epoch: int = 0,
    max_batches: int | None = None,
    bucketing: bool | None = None,
    hosts: HostGroup | None = None,
) -> SequenceBatches:
    """A :class:`SequenceBatches` for the train (``training``) or validation split (``hosts``:
    serve only this process's share of every global batch)."""
    d = cfg.data
    hosts = hosts or HostGroup()
    indices = split.train_indices if training else split.val_indices
    return SequenceBatches(
        split.cache,
        indices,
        batch_size=int(d.batch_size if training else d.eval_batch_size),
        max_len=int(d.max_len),
        training=training,
        augmenter=augmenter,
        seed=int(cfg.seed),
        boundaries=list(d.buckets) if d.buckets is not None else None,
        bucketing=bool(d.bucketing if bucketing is None else bucketing),
        valid_lengths=split.valid_lengths[indices],
        initial_epoch=initial_epoch,
        workers=int(d.workers),
        use_multiprocessing=bool(d.use_multiprocessing),
        max_queue_size=int(d.max_queue_size),
        max_batches=max_batches,
        num_shards=hosts.num_processes,
        shard_index=hosts.process_id,
    )


def build_datasets(
    cfg: DictConfig, split: DataSplit, *, initial_epoch: int, hosts: HostGroup
) -> TrainingData:
    """The augmenter of ``cfg.augment`` and the loaders of the fit, starting at
    ``initial_epoch`` (a resumed run continues the shuffle and augmentation streams)."""
    from hydra.utils import instantiate

    tr = cfg.trainer
    augmenter = instantiate(cfg.augment) if cfg.get("augment") else None
    train = make_dataset(
        cfg,
        split,
        training=True,
        augmenter=augmenter,
        initial_epoch=initial_epoch,
        max_batches=tr.limit_train_batches,
        hosts=hosts,
    )
    val = None
    if split.val_indices is not None:
        val = make_dataset(
            cfg, split, training=False, max_batches=tr.limit_val_batches, hosts=hosts
        )
    return TrainingData(split=split, augmenter=augmenter, train=train, val=val)
