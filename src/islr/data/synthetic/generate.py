"""Writing a synthetic data set in the Kaggle ISLR layout (in parallel, deterministically)."""

from __future__ import annotations

import json
import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from islr.data._util import default_workers, process_pool
from islr.data._util import progress as progress_bar
from islr.data.reader import SIGN_MAP_FILENAME, TRAIN_CSV_FILENAME, read_sign_map
from islr.data.synthetic.participants import participant
from islr.data.synthetic.render import render_sequence
from islr.data.synthetic.vocabulary import sign_vocabulary
from islr.data.writer import write_landmark_file

log = logging.getLogger("islr.data.synthetic")

#: Named sizes. ``demo`` is what ``make train`` uses; ``tiny`` is for tests; ``full`` is roughly
#: the size of the real competition set (94k clips, 21 signers).
PRESETS: dict[str, dict[str, float | int]] = {
    "tiny": {"n_signs": 10, "n_participants": 5, "samples_per_sign": 4, "length_scale": 0.5},
    "demo": {"n_signs": 250, "n_participants": 10, "samples_per_sign": 3, "length_scale": 1.0},
    "full": {"n_signs": 250, "n_participants": 21, "samples_per_sign": 18, "length_scale": 1.0},
}


@dataclass
class SyntheticSummary:
    """What :func:`generate_dataset` wrote."""

    root: Path
    n_files: int
    n_signs: int
    n_participants: int
    n_frames: int
    seconds: float
    participant_ids: list[int] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{self.n_files} sequences ({self.n_frames} frames) of {self.n_signs} signs by "
            f"{self.n_participants} participants in {self.root} ({self.seconds:.1f} s)"
        )


def _render_job(job: tuple) -> list[int]:
    """Worker: render and write a batch of clips; returns their frame counts."""
    root, seed, difficulty, length_scale, n_signs, people, items = job
    signs = sign_vocabulary(n_signs, seed, difficulty)
    counts = []
    for p_index, sign_index, rep, rel in items:
        rng = np.random.default_rng([seed, 31337, p_index, sign_index, rep])
        frames = render_sequence(
            signs[sign_index], people[p_index], rng, difficulty=difficulty,
            length_scale=length_scale,
        )  # fmt: skip
        first = int(rng.integers(0, 60))
        write_landmark_file(Path(root) / rel, frames, first)
        counts.append(frames.shape[0])
    return counts


def generate_dataset(
    root: str | Path,
    *,
    n_signs: int = 250,
    n_participants: int = 10,
    samples_per_sign: int = 3,
    seed: int = 0,
    difficulty: float = 1.0,
    length_scale: float = 1.0,
    workers: int | None = None,
    progress: bool = True,
) -> SyntheticSummary:
    """Write a synthetic data set in the Kaggle ISLR layout under ``root``.

    Writes ``train.csv``, ``train_landmark_files/<participant_id>/<sequence_id>.parquet`` and
    ``sign_to_prediction_index_map.json`` (the first ``n_signs`` signs of the packaged 250-sign
    vocabulary, re-indexed 0..n-1 in sorted order).

    Args:
        root: output folder (created).
        n_signs: number of signs (1..250).
        n_participants: number of signers.
        samples_per_sign: clips per (participant, sign).
        seed: everything is a deterministic function of the arguments (not of ``workers``).
        difficulty: scales all nuisance variation; 1.0 is the calibrated default.
        length_scale: multiplies clip lengths (``tiny`` uses 0.5 for fast tests).
        workers: processes (default: CPU count; 1 = in this process).
        progress: show a tqdm bar when stderr is a terminal.
    """
    t0 = time.perf_counter()
    vocabulary = sorted(read_sign_map(None))
    if not 1 <= n_signs <= len(vocabulary):
        raise ValueError(f"n_signs must be in 1..{len(vocabulary)}, got {n_signs}")
    if n_participants < 1 or samples_per_sign < 1:
        raise ValueError(
            f"n_participants and samples_per_sign must be >= 1, got {n_participants}, "
            f"{samples_per_sign}"
        )
    if not difficulty >= 0 or not length_scale > 0:
        raise ValueError(f"difficulty must be >= 0 and length_scale > 0, got {difficulty}, "
                         f"{length_scale}")  # fmt: skip
    root = Path(root)
    names = sorted(_first_signs(n_signs))
    rng = np.random.default_rng([seed, 17])
    pids = rng.choice(np.arange(10000, 100000), size=n_participants, replace=False)
    n_total = n_signs * n_participants * samples_per_sign
    sids = np.unique(rng.integers(1_000_000, 4_294_967_295, size=n_total * 2))
    sids = rng.permutation(sids)[:n_total]
    if len(sids) < n_total:  # astronomically unlikely
        raise RuntimeError("could not draw unique sequence ids")
    people = [participant(i, seed, difficulty) for i in range(n_participants)]
    # Sign k of the vocabulary keeps its identity whatever n_signs is; labels follow sorting.
    sign_of_name = {name: i for i, name in enumerate(_first_signs(n_signs))}
    items, rows = [], []
    order = rng.permutation(n_total)
    k = 0
    for p in range(n_participants):
        for name in names:
            for rep in range(samples_per_sign):
                sid = int(sids[order[k]])
                k += 1
                rel = f"train_landmark_files/{pids[p]}/{sid}.parquet"
                items.append((p, sign_of_name[name], rep, rel))
                rows.append((rel, int(pids[p]), sid, name))
    root.mkdir(parents=True, exist_ok=True)
    workers = default_workers(workers)
    chunk = max(1, min(64, math.ceil(len(items) / (workers * 4))))
    jobs = [
        (str(root), seed, difficulty, length_scale, n_signs, people, items[i : i + chunk])
        for i in range(0, len(items), chunk)
    ]
    frames_total = 0
    bar = progress_bar(len(items), progress, "synth")
    if workers == 1:
        for job in jobs:
            counts = _render_job(job)
            frames_total += sum(counts)
            bar.update(len(counts))
    else:
        with process_pool(workers) as pool:
            for counts in pool.map(_render_job, jobs):
                frames_total += sum(counts)
                bar.update(len(counts))
    bar.close()
    # train.csv goes last: its presence marks a finished data set (islr-synth --if-missing).
    with open(root / SIGN_MAP_FILENAME, "w", encoding="utf-8") as f:
        json.dump({name: i for i, name in enumerate(names)}, f)
    # train.csv in a shuffled (but deterministic) order, like Kaggle's.
    csv_rows = [rows[i] for i in np.random.default_rng([seed, 23]).permutation(len(rows))]
    tmp = root / (TRAIN_CSV_FILENAME + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("path,participant_id,sequence_id,sign\n")
        for rel, pid, sid, name in csv_rows:
            f.write(f"{rel},{pid},{sid},{name}\n")
    os.replace(tmp, root / TRAIN_CSV_FILENAME)
    summary = SyntheticSummary(
        root=root,
        n_files=len(items),
        n_signs=n_signs,
        n_participants=n_participants,
        n_frames=frames_total,
        seconds=time.perf_counter() - t0,
        participant_ids=[int(p) for p in pids],
    )
    log.info("wrote %s", summary)
    return summary


def _first_signs(n_signs: int) -> list[str]:
    """The first ``n_signs`` signs of the packaged vocabulary (by class index)."""
    sign_map = read_sign_map(None)
    return sorted(sign_map, key=sign_map.__getitem__)[:n_signs]
