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

Safe under concurrency and failure:

- one writer at a time across processes: building, checking and opening hold an exclusive
  ``flock`` on ``<cache_dir>/.lock``; a job that starts while another builds waits, then finds
  the cache up to date and reuses it;
- every file is written under a unique temporary name and renamed into place only once all of
  them are complete, ``meta.json`` last (its presence means "complete"): a build that fails part
  way (a full disk, a kill) leaves the previous cache intact, or none;
- ``meta.json`` records each file's size and the SHA-256 of the small arrays: a truncated or
  corrupt cache is detected on open and rebuilt when rebuilding is allowed.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from islr.atomic_io import (
    atomic_path,
    exclusive_lock,
    fsync_file,
    temp_sibling,
    write_text_atomic,
)
from islr.data._util import default_workers, process_pool
from islr.data._util import progress as progress_bar
from islr.data.folds import assign_folds, split_by_fold
from islr.data.reader import (
    SIGN_MAP_FILENAME,
    TRAIN_CSV_FILENAME,
    LandmarkFileError,
    read_landmark_file,
    read_sign_map,
    read_train_csv,
    resolve_path,
)
from islr.errors import DataError
from islr.landmarks import N_POINTS, POINT_INDICES

__all__ = [
    "CACHE_FORMAT",
    "CacheError",
    "CacheMismatchError",
    "CacheReport",
    "LandmarkCache",
    "build_cache",
    "cache_lock",
    "ensure_cache",
    "open_cache",
]

log = logging.getLogger(__name__)

CACHE_FORMAT = 1  # bump when the on-disk layout or what is stored changes
CHUNK_FILES = 64  # files per shard: fixed, so a restart with other workers reuses shards
# Files a reader process must have to read before the default starts one: a process spawned
# beside TensorFlow takes about a second to start, the time to read ~500 files in this process.
FILES_PER_READER = 512
_ARRAYS = ("offsets", "labels", "participant_ids", "sequence_ids", "folds")
_LOCK_NAME = ".lock"
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
        _verify_files(self.cache_dir, self.meta)
        try:
            self.points = np.load(self.cache_dir / "points.npy", mmap_mode="r")
            arrays = {name: np.load(self.cache_dir / f"{name}.npy") for name in _ARRAYS}
        except (OSError, ValueError, EOFError) as exc:
            raise CacheError(
                f"{self.cache_dir}: incomplete or corrupt cache ({exc}); rebuild it"
            ) from None
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

    def split(self, fold: int | None) -> tuple[np.ndarray, np.ndarray | None]:
        """Indices (train, validation) holding out ``fold``; ``None``: all, no validation
        (:func:`islr.data.folds.split_by_fold`)."""
        return split_by_fold(self.folds, fold, self.num_folds)

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
        meta = json.loads(path.read_text("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, OSError) as exc:
        raise CacheError(f"{path}: corrupt meta.json ({exc}); rebuild the cache") from None
    if not isinstance(meta, dict):
        raise CacheError(f"{path}: corrupt meta.json (not an object); rebuild the cache")
    return meta


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _describe_files(cache_dir: Path) -> dict[str, dict[str, Any]]:
    """Size of every cache file, and the SHA-256 of the small ones (recorded in meta.json)."""
    files: dict[str, dict[str, Any]] = {
        "points.npy": {"size": (cache_dir / "points.npy").stat().st_size}
    }
    for name in _ARRAYS:
        path = cache_dir / f"{name}.npy"
        files[path.name] = {"size": path.stat().st_size, "sha256": _sha256(path)}
    return files


def _verify_files(cache_dir: Path, meta: dict[str, Any]) -> None:
    """Raise :class:`CacheError` if a file differs from what ``meta.json`` recorded.

    Sizes catch truncation (the points file is too large to hash on every open); the small
    arrays' hashes catch any change to them. Caches written before sizes were recorded are
    only checked for consistent shapes.
    """
    for name, want in (meta.get("files") or {}).items():
        path = cache_dir / name
        try:
            size = path.stat().st_size
        except OSError:
            raise CacheError(f"{path}: missing; incomplete or corrupt cache, rebuild it") from None
        if size != want.get("size"):
            raise CacheError(
                f"{path}: {size} bytes, the cache recorded {want.get('size')} (truncated or "
                "corrupt); rebuild it"
            )
        if "sha256" in want and _sha256(path) != want["sha256"]:
            raise CacheError(
                f"{path}: content changed since the cache was built (corrupt); rebuild it"
            )


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
    # Unique temporary name, then rename: a shard file is either complete or absent.
    with atomic_path(shard, suffix=".npz") as tmp, open(tmp, "wb") as f:
        np.savez(f, points=points, lengths=lengths_arr, errors=np.asarray(errors, dtype=str))
    return shard, lengths_arr, errors


def _shard_index(shard: str) -> tuple[np.ndarray, list[str]] | None:
    """(lengths, errors) of a finished shard, or None if it is unreadable."""
    try:
        with np.load(shard) as z:
            return z["lengths"], [str(e) for e in z["errors"]]
    except Exception:  # a damaged zip raises many types (BadZipFile, EOFError, ...): re-read it
        return None


def _shard_points(shard: str) -> np.ndarray:
    with np.load(shard) as z:
        return z["points"]


@contextmanager
def cache_lock(cache_dir: str | Path) -> Iterator[None]:
    """Hold the cache folder's exclusive lock (``<cache_dir>/.lock``).

    Other processes building, checking or opening the same cache wait here; the lock is released
    by the kernel if the holder dies, so a killed builder never blocks the next one.
    """
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)

    def say_waiting() -> None:
        log.info("%s: another process is building or checking this cache; waiting", cache_dir)

    with exclusive_lock(cache_dir / _LOCK_NAME, on_wait=say_waiting):
        yield


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

    Safe to call from several processes at once: one builds while the others wait, then reuse
    its result.

    Args:
        root: Kaggle-layout data root (``train.csv``, ``train_landmark_files/``, sign map).
        cache_dir: output folder.
        num_folds: participant-grouped CV folds stored with the cache.
        fold_seed: seed of the fold assignment (see :func:`~islr.data.folds.assign_folds`).
        workers: reader processes (1 = in this process; default: the CPUs, at most one per
            ``FILES_PER_READER`` files to read, so a small data set is read in this process).
        force: rebuild even if an up-to-date cache exists.
        rebuild: if False, an existing cache built from other data or settings raises
            :class:`CacheMismatchError`, and a corrupt one :class:`CacheError`, instead of being
            rebuilt (a missing one is still built).
        progress: tqdm bar when stderr is a terminal.

    Returns:
        A :class:`CacheReport`. Unreadable files are skipped and listed (never fatal), in the
        report, in ``meta.json`` and in ``skipped.csv``.

    Raises:
        DataError: ``train.csv``/sign map problems, or when no file at all could be read.
    """
    t0 = time.perf_counter()
    cache_dir = Path(cache_dir)
    plan = _plan(Path(root), cache_dir, num_folds, fold_seed)
    with cache_lock(cache_dir):
        return _build_locked(plan, workers=workers, force=force, rebuild=rebuild,
                             progress=progress, t0=t0)  # fmt: skip


@dataclass
class _Plan:
    """What a cache of ``root`` must hold (computed before taking the lock)."""

    root: Path
    cache_dir: Path
    df: Any
    abs_paths: list[str]
    stamps: list[str]
    source: dict[str, str]
    recipe: dict[str, Any]
    num_folds: int
    fold_seed: int


def _plan(root: Path, cache_dir: Path, num_folds: int, fold_seed: int) -> _Plan:
    sign_map = _root_sign_map(root)
    df = read_train_csv(root, sign_map)
    abs_paths = [str(resolve_path(root, p)) for p in df["path"]]
    stamps = [_file_stamp(Path(p)) for p in abs_paths]
    source = _fingerprint(root / TRAIN_CSV_FILENAME, stamps, list(df["path"]))
    if df["participant_id"].nunique() < num_folds:
        raise DataError(
            f"{root / TRAIN_CSV_FILENAME}: {df['participant_id'].nunique()} participant(s) "
            f"cannot make {num_folds} folds (num_folds)"
        )
    recipe = _recipe(num_folds, fold_seed, sign_map)
    return _Plan(root, cache_dir, df, abs_paths, stamps, source, recipe, num_folds, fold_seed)


def _build_locked(
    plan: _Plan, *, workers: int | None, force: bool, rebuild: bool, progress: bool, t0: float
) -> CacheReport:
    """:func:`build_cache` with the cache lock held."""
    cache_dir, source, recipe = plan.cache_dir, plan.source, plan.recipe
    _remove_debris(cache_dir)
    try:
        old = _read_meta(cache_dir)
        corrupt = None
    except CacheError as exc:
        old, corrupt = None, str(exc)
    if old is not None and not rebuild:
        problems = _mismatch(old, source, recipe)
        if problems:
            raise CacheMismatchError(
                f"{cache_dir}: built with other settings ({'; '.join(problems)}) and rebuild=False"
            )
    if old is not None and not force and old.get("source") == source:
        same = {k: old.get(k) for k in recipe} == recipe
        data_same = all(old.get(k) == recipe[k] for k in ("format", "point_indices", "sign_map"))
        if same or data_same:
            try:
                cache = LandmarkCache(cache_dir)  # verifies sizes, hashes and shapes
            except CacheError as exc:
                corrupt = str(exc)
            else:
                if not same:  # only the folds changed: re-assign them, no file is read again
                    _refold(cache_dir, old, plan.num_folds, plan.fold_seed)
                    log.info("re-assigned %d folds (seed %d) in %s", plan.num_folds,
                             plan.fold_seed, cache_dir)  # fmt: skip
                return CacheReport(
                    cache_dir=cache_dir,
                    n_sequences=len(cache),
                    n_frames=int(cache.offsets[-1]),
                    skipped=[tuple(s) for s in old.get("skipped", [])],
                    rebuilt=False,
                    seconds=time.perf_counter() - t0,
                )
    if corrupt is not None:
        if not rebuild and not force:
            raise CacheError(
                f"{corrupt} (not rebuilt: rebuild=False, data.rebuild_cache=false)"
            ) from None
        log.warning("%s -- rebuilding the cache", corrupt)
    return _build_files(plan, workers=workers, progress=progress, t0=t0)


def _remove_debris(cache_dir: Path) -> None:
    """Temporary files of a builder that was killed (only the lock holder writes any)."""
    for folder in (cache_dir, cache_dir / "shards"):
        if folder.is_dir():
            for path in folder.glob(".*.tmp*"):
                path.unlink(missing_ok=True)


def _build_files(plan: _Plan, *, workers: int | None, progress: bool, t0: float) -> CacheReport:
    """Read every file and publish a new cache (the lock is held)."""
    cache_dir, df, abs_paths, stamps = plan.cache_dir, plan.df, plan.abs_paths, plan.stamps
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
    n_todo = sum(len(files) for _, files in todo)
    if workers is None:
        workers = min(default_workers(None), max(1, n_todo // FILES_PER_READER))
    workers = min(default_workers(workers), max(1, len(todo)))
    log.info("reading %d of %d files with %d process(es)", n_todo, len(abs_paths), workers)
    bar = progress_bar(len(abs_paths), progress, "preprocess")
    bar.update(sum(len(cached[j[0]][0]) for j in jobs if j[0] in cached))
    results = dict(cached)
    if workers == 1:
        for job in todo:
            shard, lens, errs = _read_chunk(job)
            results[shard] = (lens, errs)
            bar.update(len(lens))
    else:
        with process_pool(workers) as pool:
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
        raise DataError(f"{plan.root}: no landmark file could be read{first}")
    n_frames = int(lengths[ok].sum())
    kept = df[ok]
    offsets = np.zeros(len(kept) + 1, dtype=np.int64)
    np.cumsum(lengths[ok], out=offsets[1:])
    pids = kept["participant_id"].to_numpy(np.int64)
    arrays = {
        "offsets": offsets,
        "labels": kept["label"].to_numpy(np.int32),
        "participant_ids": pids,
        "sequence_ids": kept["sequence_id"].to_numpy(np.int64),
        "folds": _folds(pids, plan.num_folds, plan.fold_seed, cache_dir),
    }

    # Every file goes to a unique temporary name first; only when all are complete is the old
    # cache unpublished (meta.json removed), the files renamed over it and meta.json written.
    staged: dict[str, Path] = {}
    try:
        staged["points.npy"] = tmp = temp_sibling(cache_dir / "points.npy", ".npy")
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32,
                                        shape=(n_frames, N_POINTS, 3))  # fmt: skip
        pos = 0
        for shard, _ in jobs:
            pts = _shard_points(shard)
            out[pos : pos + len(pts)] = pts
            pos += len(pts)
        out.flush()
        del out
        for name, array in arrays.items():
            staged[f"{name}.npy"] = tmp = temp_sibling(cache_dir / f"{name}.npy", ".npy")
            with open(tmp, "wb") as f:
                np.save(f, array)
        text = io.StringIO(newline="")
        writer = csv.writer(text)
        writer.writerow(["path", "reason"])
        writer.writerows(skipped)
        staged["skipped.csv"] = tmp = temp_sibling(cache_dir / "skipped.csv")
        tmp.write_text(text.getvalue(), "utf-8")
        for tmp in staged.values():
            fsync_file(tmp)
        (cache_dir / "meta.json").unlink(missing_ok=True)  # unpublish the old cache
        for name, tmp in staged.items():
            os.replace(tmp, cache_dir / name)
    finally:
        for tmp in staged.values():
            tmp.unlink(missing_ok=True)
    meta = dict(plan.recipe)
    meta.update(
        {
            "source": plan.source,
            "root": str(plan.root),
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
    pids = np.load(cache_dir / "participant_ids.npy")
    folds = _folds(pids, num_folds, fold_seed, cache_dir)
    tmp = temp_sibling(cache_dir / "folds.npy", ".npy")
    try:
        with open(tmp, "wb") as f:
            np.save(f, folds)
        fsync_file(tmp)
        (cache_dir / "meta.json").unlink()
        os.replace(tmp, cache_dir / "folds.npy")
    finally:
        tmp.unlink(missing_ok=True)
    _write_meta(cache_dir, dict(meta, num_folds=int(num_folds), fold_seed=int(fold_seed)))


def _write_meta(cache_dir: Path, meta: dict) -> None:
    """Publish the cache: ``meta.json`` with every file's size and the small arrays' hashes."""
    meta = dict(meta, files=_describe_files(cache_dir))
    write_text_atomic(cache_dir / "meta.json", json.dumps(meta, indent=1))


def ensure_cache(
    root: str | Path, cache_dir: str | Path, *, rebuild: bool = True, **build_kwargs: Any
) -> LandmarkCache:
    """Open the cache of ``root`` at ``cache_dir``, building it first if missing or stale.

    The check, any (re)build and the opening happen under the cache's lock, so a concurrent
    builder can never be caught half-way.

    Args:
        rebuild: if False, an existing cache built from other data or settings raises
            :class:`CacheMismatchError` (a corrupt one :class:`CacheError`) instead of being
            rebuilt (a missing one is still built).
        **build_kwargs: passed to :func:`build_cache` (num_folds, fold_seed, workers, ...).
    """
    t0 = time.perf_counter()
    cache_dir = Path(cache_dir)
    plan = _plan(Path(root), cache_dir, int(build_kwargs.pop("num_folds", 5)),
                 int(build_kwargs.pop("fold_seed", 0)))  # fmt: skip
    with cache_lock(cache_dir):
        report = _build_locked(
            plan,
            workers=build_kwargs.pop("workers", None),
            force=bool(build_kwargs.pop("force", False)),
            rebuild=rebuild,
            progress=bool(build_kwargs.pop("progress", True)),
            t0=t0,
        )
        if build_kwargs:
            raise TypeError(f"ensure_cache: unexpected argument(s) {sorted(build_kwargs)}")
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
