"""The preprocessing cache: the 118 selected landmarks of every clip, in one memory-mapped array.

Layout of a cache folder (``meta.json`` is written last, so its presence means "complete"):

- ``points.npy`` float32 ``[total_frames, 118, 3]`` (x, y, z; NaN kept; all-NaN frames kept)
- ``offsets.npy`` int64 ``[N + 1]``: clip ``i`` is ``points[offsets[i]:offsets[i + 1]]``
- ``labels.npy`` int32, ``participant_ids.npy`` int64, ``sequence_ids.npy`` int64,
  ``folds.npy`` int8 (each ``[N]``, in ``train.csv`` order minus skipped files)
- ``skipped.csv``: files that could not be read, with the reason
- ``meta.json``: format and recipe settings, sign map, source fingerprint, skipped list.

The build reads files in parallel chunks; each chunk is written as an atomic shard file, so an
interrupted build resumes without re-reading finished chunks. A cache is rebuilt when its source
(``train.csv`` content, each file's size and mtime) or recipe settings change, reused otherwise;
changing only the fold settings re-assigns folds without reading any file.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from islr.data._util import default_workers, mp_context
from islr.data._util import progress as progress_bar
from islr.data.folds import assign_folds
from islr.data.reader import (
    SIGN_MAP_FILENAME,
    TRAIN_CSV_FILENAME,
    DataError,
    LandmarkFileError,
    read_landmark_file,
    read_sign_map,
    read_train_csv,
    resolve_path,
)
from islr.landmarks import N_POINTS, POINT_INDICES

__all__ = [
    "CACHE_FORMAT",
    "CacheError",
    "CacheMismatchError",
    "CacheReport",
    "LandmarkCache",
    "build_cache",
    "ensure_cache",
    "open_cache",
]

log = logging.getLogger(__name__)

CACHE_FORMAT = 1  # bump when the on-disk layout or what is stored changes
CHUNK_FILES = 64  # files per shard: fixed, so a restart with other workers reuses shards
_ARRAYS = ("offsets", "labels", "participant_ids", "sequence_ids", "folds")
_POINTS = np.asarray(POINT_INDICES, dtype=np.int64)


class CacheError(DataError):
    """A cache folder is missing, incomplete, corrupt or of an old format."""


class CacheMismatchError(DataError):
    """An existing cache was built from other data or recipe settings and may not be rebuilt."""


@dataclass
class CacheReport:
    """What :func:`build_cache` did."""

    cache_dir: Path
    n_sequences: int
    n_frames: int
    skipped: list[tuple[str, str]] = field(default_factory=list)
    rebuilt: bool = True
    seconds: float = 0.0

    def __str__(self) -> str:
        what = "built" if self.rebuilt else "reused"
        text = (
            f"cache {what}: {self.n_sequences} sequences, {self.n_frames} frames in "
            f"{self.cache_dir} ({self.seconds:.1f} s)"
        )
        if self.skipped:
            text += f"; {len(self.skipped)} file(s) skipped:"
            for path, reason in self.skipped[:20]:
                text += f"\n  {path}: {reason}"
            if len(self.skipped) > 20:
                text += f"\n  ... and {len(self.skipped) - 20} more (see skipped.csv)"
        return text


# ------------------------------------------------------------------------------------------
# Opening
# ------------------------------------------------------------------------------------------
class LandmarkCache:
    """A built cache, memory-mapped.

    Attributes:
        points: float32 memmap ``[total_frames, 118, 3]`` (read-only).
        offsets: int64 ``[N + 1]``.
        labels: int32 ``[N]``; participant_ids, sequence_ids: int64 ``[N]``; folds: int8 ``[N]``.
        sign_map: sign -> label; num_folds: folds stored; meta: the parsed ``meta.json``.
    """

    def __init__(self, cache_dir: str | Path) -> None:
        self.cache_dir = Path(cache_dir)
        self.meta = _read_meta(self.cache_dir)
        if self.meta is None:
            raise CacheError(
                f"{self.cache_dir}: no complete cache here (missing meta.json); build it with "
                "islr-preprocess or islr.data.build_cache"
            )
        if self.meta.get("format") != CACHE_FORMAT:
            raise CacheError(
                f"{self.cache_dir}: cache format {self.meta.get('format')!r} is not the current "
                f"format {CACHE_FORMAT}; rebuild it"
            )
        try:
            self.points = np.load(self.cache_dir / "points.npy", mmap_mode="r")
            arrays = {name: np.load(self.cache_dir / f"{name}.npy") for name in _ARRAYS}
        except (OSError, ValueError) as exc:
            raise CacheError(f"{self.cache_dir}: incomplete or corrupt cache ({exc})") from None
        self.offsets: np.ndarray = arrays["offsets"]
        self.labels: np.ndarray = arrays["labels"]
        self.participant_ids: np.ndarray = arrays["participant_ids"]
        self.sequence_ids: np.ndarray = arrays["sequence_ids"]
        self.folds: np.ndarray = arrays["folds"]
        n = len(self.labels)
        if (
            self.points.ndim != 3
            or self.points.shape[1:] != (N_POINTS, 3)
            or len(self.offsets) != n + 1
            or int(self.offsets[-1]) != self.points.shape[0]
            or any(len(a) != n for a in (self.participant_ids, self.sequence_ids, self.folds))
        ):
            raise CacheError(f"{self.cache_dir}: arrays have inconsistent shapes; rebuild it")
        self.sign_map: dict[str, int] = dict(self.meta["sign_map"])
        self.num_folds: int = int(self.meta["num_folds"])

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def lengths(self) -> np.ndarray:
        """Frames per sequence, int64 ``[N]``."""
        return np.diff(self.offsets)

    def sequence(self, i: int) -> np.ndarray:
        """The 118 selected points of sequence ``i``: float32 ``[T, 118, 3]`` (read-only view)."""
        if not -len(self) <= i < len(self):
            raise IndexError(f"sequence index {i} out of range for a cache of {len(self)}")
        i = i % len(self)
        return self.points[self.offsets[i] : self.offsets[i + 1]]

    def split(self, fold: int) -> tuple[np.ndarray, np.ndarray]:
        """Indices (train, validation) for holding out ``fold``."""
        if not 0 <= fold < self.num_folds:
            raise ValueError(f"fold must be in 0..{self.num_folds - 1}, got {fold}")
        return np.flatnonzero(self.folds != fold), np.flatnonzero(self.folds == fold)

    def __repr__(self) -> str:
        return (
            f"LandmarkCache({str(self.cache_dir)!r}, sequences={len(self)}, "
            f"frames={self.points.shape[0]}, folds={self.num_folds})"
        )


def open_cache(cache_dir: str | Path) -> LandmarkCache:
    """Open a built cache (memory-mapped). Raises :class:`CacheError` if missing/incomplete/old."""
    return LandmarkCache(cache_dir)


def _read_meta(cache_dir: Path) -> dict[str, Any] | None:
    path = cache_dir / "meta.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CacheError(f"{path}: corrupt meta.json ({exc}); rebuild the cache") from None


# ------------------------------------------------------------------------------------------
# Building
# ------------------------------------------------------------------------------------------
def _recipe(num_folds: int, fold_seed: int, sign_map: dict[str, int]) -> dict[str, Any]:
    return {
        "format": CACHE_FORMAT,
        "point_indices": list(POINT_INDICES),
        "num_folds": int(num_folds),
        "fold_seed": int(fold_seed),
        "sign_map": sign_map,
    }


def _file_stamp(path: Path) -> str:
    try:
        st = path.stat()
    except OSError:
        return "missing"
    return f"{st.st_size}:{st.st_mtime_ns}"


def _fingerprint(csv_path: Path, stamps: list[str], paths: list[str]) -> dict[str, str]:
    files = hashlib.sha256()
    for rel, stamp in zip(paths, stamps, strict=True):
        files.update(f"{rel}\0{stamp}\n".encode())
    return {
        "train_csv_sha256": hashlib.sha256(csv_path.read_bytes()).hexdigest(),
        "files_sha256": files.hexdigest(),
    }


def _read_chunk(job: tuple[str, list[str]]) -> tuple[str, np.ndarray, list[str]]:
    """Worker: read a chunk of files into one shard file; returns (shard, lengths, errors).

    The points stay on disk (the parent copies them into the final array shard by shard), so
    memory stays bounded by one chunk even for the full 94k-file data set.
    """
    shard, files = job
    parts, lengths, errors = [], [], []
    for path in files:
        try:
            frames = read_landmark_file(path)
            parts.append(frames[:, _POINTS])
            lengths.append(parts[-1].shape[0])
            errors.append("")
        except LandmarkFileError as exc:
            lengths.append(0)
            errors.append(exc.problem)
        except Exception as exc:  # one bad file must never stop the build
            lengths.append(0)
            errors.append(f"{type(exc).__name__}: {exc}")
    points = np.concatenate(parts) if parts else np.zeros((0, N_POINTS, 3), np.float32)
    lengths_arr = np.asarray(lengths, dtype=np.int64)
    tmp = Path(shard + ".tmp")
    with open(tmp, "wb") as f:
        np.savez(f, points=points, lengths=lengths_arr, errors=np.asarray(errors, dtype=str))
    os.replace(tmp, shard)  # atomic: a shard file is either complete or absent
    return shard, lengths_arr, errors


def _shard_index(shard: str) -> tuple[np.ndarray, list[str]] | None:
    """(lengths, errors) of a finished shard, or None if it is unreadable."""
    try:
        with np.load(shard) as z:
            return z["lengths"], [str(e) for e in z["errors"]]
    except (OSError, ValueError, KeyError):
        return None


def _shard_points(shard: str) -> np.ndarray:
    with np.load(shard) as z:
        return z["points"]


def build_cache(
    root: str | Path,
    cache_dir: str | Path,
    *,
    num_folds: int = 5,
    fold_seed: int = 0,
    workers: int | None = None,
    force: bool = False,
    rebuild: bool = True,
    progress: bool = True,
) -> CacheReport:
    """Build (or reuse) the preprocessing cache of the data set at ``root``.

    Args:
        root: Kaggle-layout data root (``train.csv``, ``train_landmark_files/``, sign map).
        cache_dir: output folder.
        num_folds, fold_seed: participant-grouped CV folds stored with the cache.
        workers: reader processes (default: CPU count; 1 = in this process).
        force: rebuild even if an up-to-date cache exists.
        rebuild: if False, an existing cache built from other data or settings raises
            :class:`CacheMismatchError` instead of being rebuilt (a missing one is still built).
        progress: tqdm bar when stderr is a terminal.

    Returns:
        A :class:`CacheReport`. Unreadable files are skipped and listed (never fatal), in the
        report, in ``meta.json`` and in ``skipped.csv``.

    Raises:
        DataError: ``train.csv``/sign map problems, or when no file at all could be read.
    """
    t0 = time.perf_counter()
    root, cache_dir = Path(root), Path(cache_dir)
    sign_map = _root_sign_map(root)
    df = read_train_csv(root, sign_map)
    abs_paths = [str(resolve_path(root, p)) for p in df["path"]]
    stamps = [_file_stamp(Path(p)) for p in abs_paths]
    source = _fingerprint(root / TRAIN_CSV_FILENAME, stamps, list(df["path"]))
    recipe = _recipe(num_folds, fold_seed, sign_map)

    old = _read_meta(cache_dir) if cache_dir.is_dir() else None
    if old is not None and not rebuild:
        problems = _mismatch(old, source, recipe)
        if problems:
            raise CacheMismatchError(
                f"{cache_dir}: built with other settings ({'; '.join(problems)}) and rebuild=False"
            )
    if df["participant_id"].nunique() < num_folds:
        raise DataError(
            f"{root / TRAIN_CSV_FILENAME}: {df['participant_id'].nunique()} participant(s) "
            f"cannot make {num_folds} folds (num_folds)"
        )
    if old is not None and not force and old.get("source") == source:
        same = {k: old.get(k) for k in recipe} == recipe
        data_same = all(old.get(k) == recipe[k] for k in ("format", "point_indices", "sign_map"))
        if same or data_same:
            if not same:  # only the folds changed: re-assign them, no file is read again
                _refold(cache_dir, old, num_folds, fold_seed)
                log.info("re-assigned %d folds (seed %d) in %s", num_folds, fold_seed, cache_dir)
            return CacheReport(
                cache_dir=cache_dir,
                n_sequences=len(np.load(cache_dir / "labels.npy", mmap_mode="r")),
                n_frames=int(np.load(cache_dir / "offsets.npy", mmap_mode="r")[-1]),
                skipped=[tuple(s) for s in old.get("skipped", [])],
                rebuilt=False,
                seconds=time.perf_counter() - t0,
            )

    cache_dir.mkdir(parents=True, exist_ok=True)
    (cache_dir / "meta.json").unlink(missing_ok=True)  # the cache is incomplete from now on
    shard_dir = cache_dir / "shards"
    shard_dir.mkdir(exist_ok=True)
    jobs, cached = [], {}
    for start in range(0, len(abs_paths), CHUNK_FILES):
        files = abs_paths[start : start + CHUNK_FILES]
        key = hashlib.sha256(
            json.dumps(
                [CACHE_FORMAT, list(POINT_INDICES), files, stamps[start : start + CHUNK_FILES]]
            ).encode()
        ).hexdigest()[:24]
        shard = str(shard_dir / f"{key}.npz")
        loaded = _shard_index(shard) if os.path.exists(shard) else None
        if loaded is not None and len(loaded[0]) == len(files):
            cached[shard] = loaded
        jobs.append((shard, files))
    todo = [j for j in jobs if j[0] not in cached]
    if cached:
        log.info("resuming: %d of %d chunks already done", len(cached), len(jobs))
    workers = min(default_workers(workers), max(1, len(todo)))
    bar = progress_bar(len(abs_paths), progress, "preprocess")
    bar.update(sum(len(cached[j[0]][0]) for j in jobs if j[0] in cached))
    results = dict(cached)
    if workers == 1:
        for job in todo:
            shard, lens, errs = _read_chunk(job)
            results[shard] = (lens, errs)
            bar.update(len(lens))
    else:
        with ProcessPoolExecutor(workers, mp_context=mp_context()) as pool:
            futures = [pool.submit(_read_chunk, job) for job in todo]
            for fut in as_completed(futures):
                shard, lens, errs = fut.result()
                results[shard] = (lens, errs)
                bar.update(len(lens))
    bar.close()

    # Assemble in train.csv order.
    lengths = np.concatenate([results[s][0] for s, _ in jobs]) if jobs else np.zeros(0, np.int64)
    errors = [e for s, _ in jobs for e in results[s][1]]
    ok = np.array([not e for e in errors], dtype=bool)
    skipped = [(str(df["path"].iloc[i]), errors[i]) for i in np.flatnonzero(~ok)]
    if not ok.any():
        first = f" (first: {skipped[0][0]}: {skipped[0][1]})" if skipped else ""
        raise DataError(f"{root}: no landmark file could be read{first}")
    n_frames = int(lengths[ok].sum())
    tmp_points = cache_dir / "points.tmp.npy"
    out = np.lib.format.open_memmap(tmp_points, mode="w+", dtype=np.float32,
                                    shape=(n_frames, N_POINTS, 3))  # fmt: skip
    pos = 0
    for shard, _ in jobs:
        pts = _shard_points(shard)
        out[pos : pos + len(pts)] = pts
        pos += len(pts)
    out.flush()
    del out
    os.replace(tmp_points, cache_dir / "points.npy")
    kept = df[ok]
    offsets = np.zeros(len(kept) + 1, dtype=np.int64)
    np.cumsum(lengths[ok], out=offsets[1:])
    pids = kept["participant_id"].to_numpy(np.int64)
    np.save(cache_dir / "offsets.npy", offsets)
    np.save(cache_dir / "labels.npy", kept["label"].to_numpy(np.int32))
    np.save(cache_dir / "participant_ids.npy", pids)
    np.save(cache_dir / "sequence_ids.npy", kept["sequence_id"].to_numpy(np.int64))
    np.save(cache_dir / "folds.npy", _folds(pids, num_folds, fold_seed, cache_dir))
    with open(cache_dir / "skipped.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "reason"])
        writer.writerows(skipped)
    meta = dict(recipe)
    meta.update(
        {
            "source": source,
            "root": str(root),
            "n_sequences": len(kept),
            "n_frames": n_frames,
            "skipped": [list(s) for s in skipped],
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
    )
    _write_meta(cache_dir, meta)
    shutil.rmtree(shard_dir, ignore_errors=True)
    report = CacheReport(cache_dir, len(kept), n_frames, skipped, True, time.perf_counter() - t0)
    log.info("%s", report)
    return report


def _folds(pids: np.ndarray, num_folds: int, fold_seed: int, cache_dir: Path) -> np.ndarray:
    try:
        return assign_folds(pids, num_folds, fold_seed)
    except ValueError as exc:
        raise DataError(f"{cache_dir}: {exc} (num_folds)") from None


def _refold(cache_dir: Path, meta: dict, num_folds: int, fold_seed: int) -> None:
    (cache_dir / "meta.json").unlink()
    pids = np.load(cache_dir / "participant_ids.npy")
    np.save(cache_dir / "folds.npy", _folds(pids, num_folds, fold_seed, cache_dir))
    meta = dict(meta, num_folds=int(num_folds), fold_seed=int(fold_seed))
    _write_meta(cache_dir, meta)


def _write_meta(cache_dir: Path, meta: dict) -> None:
    tmp = cache_dir / "meta.json.tmp"
    tmp.write_text(json.dumps(meta, indent=1), "utf-8")
    os.replace(tmp, cache_dir / "meta.json")


def ensure_cache(
    root: str | Path, cache_dir: str | Path, *, rebuild: bool = True, **build_kwargs: Any
) -> LandmarkCache:
    """Open the cache of ``root`` at ``cache_dir``, building it first if missing or stale.

    Args:
        rebuild: if False, an existing cache built from other data or settings raises
            :class:`CacheMismatchError` instead of being rebuilt (a missing one is still built).
        **build_kwargs: passed to :func:`build_cache` (num_folds, fold_seed, workers, ...).
    """
    cache_dir = Path(cache_dir)
    report = build_cache(root, cache_dir, rebuild=rebuild, **build_kwargs)
    cache = open_cache(cache_dir)
    if not report.rebuilt:  # build_cache already logged a (re)build
        log.info("using up-to-date cache %s (%d sequences)", cache_dir, len(cache))
    return cache


def _mismatch(old: dict, source: str, recipe: dict[str, Any]) -> list[str]:
    """How an existing cache's ``meta.json`` differs from the wanted source and recipe."""
    problems = [f"{k}: cache has {_short(old.get(k))}, asked {_short(v)}"
                for k, v in recipe.items() if old.get(k) != v]  # fmt: skip
    if old.get("source") != source:
        problems.append("source data changed (train.csv or landmark files)")
    return problems


def _root_sign_map(root: Path) -> dict[str, int]:
    """The data root's sign map, or the packaged one when the root has none (as train.csv)."""
    return read_sign_map(root if (root / SIGN_MAP_FILENAME).is_file() else None)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 40 else text[:37] + "..."
