"""Preprocessing cache: content, reuse/rebuild, bad files, restart, opening errors, CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import islr.data.cache as cache_mod
from islr.cli.preprocess import main as preprocess_main
from islr.data import (
    CacheError,
    CacheMismatchError,
    LandmarkCache,
    build_cache,
    ensure_cache,
    generate_dataset,
    open_cache,
    read_landmark_file,
    read_train_csv,
)
from islr.landmarks import POINT_INDICES


@pytest.fixture
def small_root(tmp_path: Path) -> Path:
    """A private 12-file data set (3 participants) that tests may modify."""
    root = tmp_path / "data"
    generate_dataset(root, n_signs=2, n_participants=3, samples_per_sign=2, length_scale=0.4,
                     workers=1, progress=False)  # fmt: skip
    return root


def test_cache_matches_the_files(tiny_root: Path, tiny_cache: LandmarkCache) -> None:
    df = read_train_csv(tiny_root)
    assert len(tiny_cache) == len(df)
    assert isinstance(tiny_cache.points, np.memmap)
    assert tiny_cache.points.dtype == np.float32 and tiny_cache.points.shape[1:] == (118, 3)
    np.testing.assert_array_equal(tiny_cache.sequence_ids, df["sequence_id"])
    np.testing.assert_array_equal(tiny_cache.labels, df["label"])
    np.testing.assert_array_equal(tiny_cache.participant_ids, df["participant_id"])
    assert tiny_cache.labels.dtype == np.int32 and tiny_cache.folds.dtype == np.int8
    for i in (0, 7, len(df) - 1):
        raw = read_landmark_file(tiny_root / df["path"][i])
        np.testing.assert_array_equal(tiny_cache.sequence(i), raw[:, list(POINT_INDICES)])
        assert tiny_cache.lengths[i] == len(raw)
    assert tiny_cache.lengths.sum() == tiny_cache.points.shape[0]
    assert tiny_cache.sign_map == json.loads(
        (tiny_root / "sign_to_prediction_index_map.json").read_text()
    )
    for p in np.unique(tiny_cache.participant_ids):  # folds grouped by participant
        assert len(np.unique(tiny_cache.folds[tiny_cache.participant_ids == p])) == 1
    train, valid = tiny_cache.split(0)
    assert len(train) + len(valid) == len(tiny_cache) and len(valid) > 0
    assert not set(tiny_cache.participant_ids[train]) & set(tiny_cache.participant_ids[valid])


def test_reuse_refold_and_rebuild(small_root: Path, tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    first = build_cache(small_root, cache_dir, num_folds=3, workers=1, progress=False)
    assert first.rebuilt and first.n_sequences == 12
    again = build_cache(small_root, cache_dir, num_folds=3, workers=1, progress=False)
    assert not again.rebuilt
    # Other fold settings: folds re-assigned without a rebuild.
    refold = build_cache(small_root, cache_dir, num_folds=2, workers=1, progress=False)
    assert not refold.rebuilt
    assert open_cache(cache_dir).num_folds == 2
    assert set(open_cache(cache_dir).folds.tolist()) == {0, 1}
    # A changed source file triggers a rebuild.
    some = small_root / pd.read_csv(small_root / "train.csv")["path"][0]
    os.utime(some, ns=(1, 1))
    assert build_cache(small_root, cache_dir, num_folds=2, workers=1, progress=False).rebuilt
    assert build_cache(small_root, cache_dir, num_folds=2, workers=1, force=True,
                       progress=False).rebuilt  # fmt: skip


def test_bad_files_are_skipped_and_reported(small_root: Path, tmp_path: Path) -> None:
    paths = pd.read_csv(small_root / "train.csv")["path"]
    (small_root / paths[1]).write_bytes(b"garbage")
    (small_root / paths[4]).unlink()
    cache_dir = tmp_path / "cache"
    report = build_cache(small_root, cache_dir, num_folds=3, workers=2, progress=False)
    assert report.n_sequences == 10
    reasons = dict(report.skipped)
    assert set(reasons) == {paths[1], paths[4]}
    assert "parquet" in reasons[paths[1]] and "does not exist" in reasons[paths[4]]
    assert paths[1] in str(report)
    skipped_csv = pd.read_csv(cache_dir / "skipped.csv")
    assert set(skipped_csv["path"]) == {paths[1], paths[4]}
    cache = open_cache(cache_dir)
    assert len(cache) == 10 and len(cache.meta["skipped"]) == 2
    assert cache.lengths.sum() == cache.points.shape[0]


def test_interrupted_build_resumes(tiny_root: Path, tmp_path: Path, monkeypatch) -> None:
    real = cache_mod.read_landmark_file
    calls = {"n": 0}

    def flaky(path):
        calls["n"] += 1
        if calls["n"] == 100:
            raise KeyboardInterrupt  # simulated Ctrl-C after the first chunk (64 files)
        return real(path)

    monkeypatch.setattr(cache_mod, "read_landmark_file", flaky)
    cache_dir = tmp_path / "cache"
    with pytest.raises(KeyboardInterrupt):
        build_cache(tiny_root, cache_dir, workers=1, progress=False)
    with pytest.raises(CacheError, match="no complete cache"):
        open_cache(cache_dir)
    calls["n"] = -(10**9)  # no more interruptions; count reads from here
    start = calls["n"]
    report = build_cache(tiny_root, cache_dir, workers=1, progress=False)
    assert calls["n"] - start == 200 - cache_mod.CHUNK_FILES  # the finished chunk was reused
    assert report.n_sequences == 200
    assert not (cache_dir / "shards").exists()


def test_ensure_cache_and_mismatch(small_root: Path, tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    cache = ensure_cache(small_root, cache_dir, num_folds=3, workers=1, progress=False)
    assert len(cache) == 12 and cache.num_folds == 3
    same = ensure_cache(small_root, cache_dir, rebuild=False, num_folds=3, progress=False)
    assert len(same) == 12
    with pytest.raises(CacheMismatchError, match="num_folds"):
        ensure_cache(small_root, cache_dir, rebuild=False, num_folds=2, progress=False)
    other = tmp_path / "other"
    shutil.copytree(small_root, other)
    (other / "train.csv").write_text((other / "train.csv").read_text() + "\n")
    with pytest.raises(CacheMismatchError, match="source data changed"):
        ensure_cache(other, cache_dir, rebuild=False, num_folds=3, progress=False)
    rebuilt = ensure_cache(other, cache_dir, num_folds=3, workers=1, progress=False)
    assert rebuilt.meta["root"] == str(other)


def test_open_cache_errors(small_root: Path, tmp_path: Path) -> None:
    with pytest.raises(CacheError, match="no complete cache"):
        open_cache(tmp_path / "nothing")
    cache_dir = tmp_path / "cache"
    build_cache(small_root, cache_dir, num_folds=3, workers=1, progress=False)
    meta = json.loads((cache_dir / "meta.json").read_text())
    (cache_dir / "meta.json").write_text(json.dumps(dict(meta, format=0)))
    with pytest.raises(CacheError, match="format"):
        open_cache(cache_dir)
    (cache_dir / "meta.json").write_text(json.dumps(meta))
    (cache_dir / "labels.npy").unlink()
    with pytest.raises(CacheError, match="incomplete"):
        open_cache(cache_dir)


def test_too_few_participants_for_folds(small_root: Path, tmp_path: Path) -> None:
    with pytest.raises(Exception, match="num_folds"):
        build_cache(small_root, tmp_path / "c", num_folds=5, workers=1, progress=False)


def test_cli(small_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (small_root / pd.read_csv(small_root / "train.csv")["path"][0]).write_bytes(b"x")
    args = ["--root", str(small_root), "--cache", str(tmp_path / "c"), "--folds", "3",
            "--workers", "1", "--quiet"]  # fmt: skip
    assert preprocess_main(args) == 0
    out = capsys.readouterr().out
    assert "cache built: 11 sequences" in out and "1 file(s) skipped" in out
    assert preprocess_main(args) == 0
    assert "cache reused" in capsys.readouterr().out
    assert preprocess_main([*args[:4], "--folds", "9", "--quiet"]) == 2


# --- concurrency and corruption -----------------------------------------------------------------
def _holders_of(lock: Path, pids: list[int]) -> int:
    """How many of ``pids`` have ``lock`` open (Linux /proc)."""
    count = 0
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == str(lock):
                    count += 1
                    break
            except OSError:
                pass
    return count


def test_three_concurrent_builders_build_once(tiny_root: Path, tmp_path: Path) -> None:
    """Three islr-preprocess processes started on one fresh cache: one builds, two wait and
    reuse it. The test holds the lock until all three are waiting on it, so they really race."""
    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc to see the processes wait on the lock")
    cache_dir = tmp_path / "cache"
    cmd = [sys.executable, "-m", "islr.cli.preprocess", "--root", str(tiny_root),
           "--cache", str(cache_dir), "--quiet"]  # fmt: skip
    with cache_mod.cache_lock(cache_dir):
        procs = [
            subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(3)
        ]
        deadline = time.monotonic() + 60
        while _holders_of(cache_dir / ".lock", [p.pid for p in procs]) < 3:
            assert time.monotonic() < deadline, "the builders never reached the lock"
            assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
            time.sleep(0.05)
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outputs
    stdout = [out for out, _ in outputs]
    assert sum("cache built: 200 sequences" in s for s in stdout) == 1, stdout
    assert sum("cache reused: 200 sequences" in s for s in stdout) == 2, stdout
    assert sum("waiting" in err for _, err in outputs) == 3
    cache = open_cache(cache_dir)
    assert len(cache) == 200 and cache.lengths.sum() == cache.points.shape[0]
    leftovers = [
        p.name for p in cache_dir.iterdir() if p.name.startswith(".") and p.name != ".lock"
    ]
    assert not leftovers and not (cache_dir / "shards").exists()


def test_truncated_or_corrupt_cache_is_detected_and_rebuilt(small_root: Path, tmp_path: Path):
    cache_dir = tmp_path / "cache"
    build_cache(small_root, cache_dir, num_folds=3, workers=1, progress=False)
    good = np.array(open_cache(cache_dir).points)
    points = cache_dir / "points.npy"
    size = points.stat().st_size
    with open(points, "r+b") as f:
        f.truncate(size - 1000)
    with pytest.raises(CacheError) as err:
        open_cache(cache_dir)
    assert "points.npy" in str(err.value) and "\n" not in str(err.value)
    assert "truncated" in str(err.value)
    # Rebuilding off: a one-line error; on (the default): rebuilt, whatever the fingerprint says.
    with pytest.raises(CacheError, match=r"points\.npy.*rebuild=False"):
        ensure_cache(small_root, cache_dir, rebuild=False, num_folds=3, progress=False)
    cache = ensure_cache(small_root, cache_dir, num_folds=3, workers=1, progress=False)
    np.testing.assert_array_equal(np.array(cache.points), good)
    assert points.stat().st_size == size

    # Same size, other content: the small arrays are hashed.
    labels = cache_dir / "labels.npy"
    raw = bytearray(labels.read_bytes())
    raw[-1] ^= 0xFF
    labels.write_bytes(bytes(raw))
    with pytest.raises(CacheError, match=r"labels\.npy: content changed"):
        open_cache(cache_dir)
    report = build_cache(small_root, cache_dir, num_folds=3, workers=1, progress=False)
    assert report.rebuilt
    assert open_cache(cache_dir).labels.tolist() == read_train_csv(small_root)["label"].tolist()

    # A garbled meta.json is corrupt too, and rebuilt.
    (cache_dir / "meta.json").write_text("{not json")
    assert build_cache(small_root, cache_dir, num_folds=3, workers=1, progress=False).rebuilt
    assert len(open_cache(cache_dir)) == 12


def test_a_later_job_does_not_rebuild_an_up_to_date_cache(small_root: Path, tmp_path: Path):
    cache_dir = tmp_path / "cache"
    build_cache(small_root, cache_dir, num_folds=3, workers=1, progress=False)
    stamp = (cache_dir / "points.npy").stat().st_mtime_ns
    assert not build_cache(small_root, cache_dir, num_folds=3, workers=1, progress=False).rebuilt
    ensure_cache(small_root, cache_dir, num_folds=3, workers=1, progress=False)
    assert (cache_dir / "points.npy").stat().st_mtime_ns == stamp
