"""Where the augmentations run, as ``make train`` trains: numpy per sample on the host (islr
before the batched layer) vs the batched Keras layer inside the compiled training step (islr).

Trains the demo (``islr-train experiment=demo``, export off) on one synthetic demo data set
(``islr-synth --preset demo``) with each of two islr versions, interleaved (A B A B ...) so that
a machine shared with other work loads both alike:

- ``numpy``: the last version that augmented on the host, per sample in numpy (``--numpy-rev``,
  a commit of this repository; its ``src/islr`` and ``conf`` are taken with ``git archive`` and
  put first on ``PYTHONPATH``), with its default ``augment.on_device=false``;
- ``layer``: this working tree (``islr.augment.BatchAugmentation`` in the training step).

Prints every run's training time (``fit``) and end-to-end time, the held-out top-1/top-5 of
each, and the ratio layer / numpy of the median times. Each run is its own process, so
compilation is included, as a user's ``make train`` sees it. The landmark cache is built once
beforehand (a first, discarded run of one batch) and shared.

Measured (2-core CPU shared with other jobs, TF backend, 2 rounds): numpy fit 116.9 / 124.8 s,
layer 107.8 / 127.9 s; median fit ratio layer / numpy 0.975, end to end 0.998; val top-1 0.933
(numpy) and 0.937 (layer), top-5 0.981 / 0.979.

Usage: ``python bench/bench_augment_paths.py [--data DIR] [--rounds 2] [--epochs N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[1]
# The last commit whose training augmented on the host in numpy (augment.on_device=false).
NUMPY_REV = "895ae5d"
VARIANTS = ("numpy", "layer")


def snapshot(rev: str, dest: Path) -> Path:
    """``src/islr`` and ``conf`` of commit ``rev`` as an importable ``islr`` under ``dest``."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", rev, "src/islr", "conf"],
        check=True,
        capture_output=True,
    ).stdout
    dest.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    shutil.move(dest / "src" / "islr", dest / "islr")
    shutil.move(dest / "conf", dest / "islr" / "conf")
    return dest


def train_once(data: Path, out: Path, overrides: list[str], pythonpath: Path | None = None) -> dict:
    """One ``islr-train experiment=demo`` run (of the islr under ``pythonpath``, else this
    tree); its ``metrics.json`` plus the wall time."""
    cmd = [
        str(BIN / "islr-train"),
        "experiment=demo",
        f"data.root={data}",
        "export.enabled=false",
        f"hydra.run.dir={out}",
        *overrides,
    ]
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(pythonpath), env.get("PYTHONPATH", "")])
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env)
    wall = time.perf_counter() - start
    metrics = json.loads((out / "metrics.json").read_text())
    metrics["wall_seconds"] = wall
    return metrics


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="demo data (made if absent)")
    parser.add_argument("--rounds", type=int, default=2, help="A B rounds")
    parser.add_argument("--epochs", type=int, default=None, help="override trainer.epochs")
    parser.add_argument("--numpy-rev", default=NUMPY_REV, help="commit of the numpy variant")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="islr-bench-augment-"))
    paths = {"numpy": snapshot(args.numpy_rev, work / "numpy-islr"), "layer": None}
    data = args.data or work / "demo"
    if not (data / "train.csv").exists():
        subprocess.run(
            [str(BIN / "islr-synth"), "--out", str(data), "--preset", "demo"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    extra = [] if args.epochs is None else [f"trainer.epochs={args.epochs}"]
    # Build the landmark cache once, outside the timings.
    train_once(
        data,
        work / "warm",
        ["trainer.epochs=1", "trainer.limit_train_batches=1", "trainer.limit_val_batches=1"],
    )
    print(f"backend {os.environ.get('KERAS_BACKEND', 'tensorflow')}, data {data}", flush=True)
    runs: dict[str, list[dict]] = {name: [] for name in VARIANTS}
    for r in range(args.rounds):
        for name in VARIANTS:
            m = train_once(data, work / f"{name}{r}", extra, paths[name])
            runs[name].append(m)
            print(
                f"round {r} {name:6s}: fit {m['timing']['fit_seconds_this_session']:7.1f} s, "
                f"wall {m['wall_seconds']:7.1f} s, val top-1 {m.get('val_top1', float('nan')):.4f}"
                f", top-5 {m.get('val_top5', float('nan')):.4f}",
                flush=True,
            )

    def median(name: str, key: str) -> float:
        if key == "fit":
            return statistics.median(m["timing"]["fit_seconds_this_session"] for m in runs[name])
        return statistics.median(m[key] for m in runs[name])

    for name in VARIANTS:
        print(
            f"{name:6s}: median fit {median(name, 'fit'):7.1f} s, wall "
            f"{median(name, 'wall_seconds'):7.1f} s, val top-1 "
            f"{statistics.mean(m.get('val_top1', float('nan')) for m in runs[name]):.4f}"
        )
    a, b = VARIANTS
    print(
        f"ratio {b} / {a}: fit {median(b, 'fit') / median(a, 'fit'):.3f}, wall "
        f"{median(b, 'wall_seconds') / median(a, 'wall_seconds'):.3f}"
    )
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
