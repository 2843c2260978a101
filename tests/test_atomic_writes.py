"""Writes that survive a full disk: checkpoints, metrics.json and the cache either appear whole
or leave the previous good file in place (and no temporary debris).

Two kinds of failure are injected: the kernel's own file-size limit (``RLIMIT_FSIZE``: a write
past it fails with ``EFBIG``, exactly like a full disk, whatever library is writing), and the
low-level writer of :mod:`islr.atomic_io` failing after part of the data went out.
"""

from __future__ import annotations

import errno
import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import keras
import numpy as np
import pytest

import islr.atomic_io as atomic_io
from islr.atomic_io import write_json_atomic
from islr.data import build_cache, open_cache
from islr.train.checkpoint import CheckpointState, read_training_state

resource = pytest.importorskip("resource")  # POSIX only


@contextmanager
def file_size_limit(nbytes: int) -> Iterator[None]:
    """Every file this process writes is limited to ``nbytes`` (writes beyond fail: EFBIG)."""
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the kernel kills us
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old_handler)


@contextmanager
def _raises(kind: type[BaseException]) -> Iterator[None]:
    """``pytest.raises`` for code that also runs outside pytest (in a subprocess)."""
    try:
        yield
    except kind:
        return
    raise AssertionError(f"{kind.__name__} not raised")


def _debris(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if ".tmp" in p.name)


def test_metrics_json_survives_a_full_disk(tmp_path: Path) -> None:
    path = tmp_path / "metrics.json"
    write_json_atomic(path, {"val_top1": 0.5})
    before = path.read_bytes()
    with file_size_limit(4096), pytest.raises(OSError) as err:
        write_json_atomic(path, {"history": list(range(5000))})
    assert err.value.errno == errno.EFBIG
    assert path.read_bytes() == before and not _debris(tmp_path)
    write_json_atomic(path, {"history": list(range(5000))})  # and works again afterwards
    assert len(json.loads(path.read_text())["history"]) == 5000


def test_a_writer_failing_part_way_leaves_the_old_file(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "metrics.json"
    write_json_atomic(path, {"val_top1": 0.5})
    before = path.read_bytes()
    written: list[int] = []

    def half_then_enospc(f, data: bytes) -> None:
        f.write(data[: len(data) // 2])
        f.flush()
        written.append(len(data) // 2)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic_io, "_write_all", half_then_enospc)
    with pytest.raises(OSError, match="No space left"):
        write_json_atomic(path, {"val_top1": 0.9, "padding": "x" * 1000})
    assert written and written[0] > 0  # part of the new content did reach the disk
    assert path.read_bytes() == before and not _debris(tmp_path)


def test_checkpoints_survive_a_full_disk(tmp_path: Path) -> None:
    """Run in a fresh interpreter: after a write fails with EFBIG, HDF5 (inside h5py) can be left
    in a state that crashes a later, unrelated save in the same process (seen as a segfault of
    the next test on the same pytest worker). A failing check exits the child non-zero."""
    # os._exit: HDF5's own teardown of the handles of the file that could not be written can
    # crash at interpreter exit, after everything checked here has passed.
    code = (
        "import os, sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]); "
        "from test_atomic_writes import checkpoint_full_disk_scenario as run; "
        "run(Path(sys.argv[2])); sys.stdout.flush(); os._exit(0)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(Path(__file__).parent), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "scenario passed" in done.stdout


def checkpoint_full_disk_scenario(tmp_path: Path) -> None:
    """The checkpoint part of the full-disk test (see above for why it runs in a subprocess)."""
    inputs = keras.Input((4,))
    network = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Dense(4096)(inputs)))
    model = keras.Model(inputs, network(inputs))  # as in training: the network is not compiled
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 4)).astype("float32"), rng.integers(0, 3, 64)
    ckpt = CheckpointState(tmp_path, network, validate=False)
    model.fit(x, y, epochs=1, callbacks=[ckpt], verbose=0)
    files = [ckpt.best_path, ckpt.last_path, ckpt.weights_path, tmp_path / "metrics.csv"]
    before = {p: p.read_bytes() for p in files}
    limit = min(len(b) for p, b in before.items() if p.suffix != ".csv") // 2
    with file_size_limit(limit), _raises(OSError):
        model.fit(x, y, epochs=2, initial_epoch=1, callbacks=[ckpt], verbose=0)
    for p in files:
        assert p.read_bytes() == before[p], p.name
    assert read_training_state(ckpt.weights_path)["epoch"] == 1
    assert keras.saving.load_model(ckpt.best_path, compile=False) is not None
    assert not _debris(tmp_path)

    # Room for the .keras files but not for the (larger) weights + optimizer file: the
    # networks are replaced whole, the resume state stays the previous epoch's, intact.
    keras_size = ckpt.best_path.stat().st_size
    weights_size = ckpt.weights_path.stat().st_size
    assert weights_size > keras_size * 1.5
    with file_size_limit((keras_size + weights_size) // 2), _raises(OSError):
        model.fit(x, y, epochs=2, initial_epoch=1, callbacks=[ckpt], verbose=0)
    assert ckpt.weights_path.read_bytes() == before[ckpt.weights_path]
    assert ckpt.best_path.read_bytes() != before[ckpt.best_path]
    assert keras.saving.load_model(ckpt.best_path, compile=False) is not None
    assert not _debris(tmp_path)
    print("scenario passed")


def test_cache_rebuild_on_a_full_disk_keeps_the_old_cache(tiny_root: Path, tmp_path: Path):
    cache_dir = tmp_path / "cache"
    build_cache(tiny_root, cache_dir, num_folds=5, workers=1, progress=False)
    old = open_cache(cache_dir)
    points, labels = np.array(old.points), old.labels.copy()
    limit = (cache_dir / "points.npy").stat().st_size // 2
    with file_size_limit(limit), pytest.raises(OSError):
        build_cache(tiny_root, cache_dir, num_folds=5, workers=1, force=True, progress=False)
    again = open_cache(cache_dir)  # still complete, verified against meta.json
    np.testing.assert_array_equal(np.array(again.points), points)
    np.testing.assert_array_equal(again.labels, labels)
    assert not [p.name for p in cache_dir.iterdir() if ".tmp" in p.name]
    # The next build (with room) reuses it: it is up to date.
    assert not build_cache(tiny_root, cache_dir, num_folds=5, workers=1, progress=False).rebuilt
