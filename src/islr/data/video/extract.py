"""Videos -> the Kaggle ISLR layout, in parallel, resumable and shardable.

:func:`extract_dataset` runs MediaPipe Holistic (in its own environment, see
:mod:`islr.data.video.environment`) over a work list of :class:`VideoClip` and writes
``train_landmark_files/<participant>/<sequence>.parquet``, ``sign_to_prediction_index_map.json``
and, last, ``train.csv`` into the data root, so every islr command reads the result unchanged.

* **Parallel**: ``workers`` worker processes, each with MediaPipe loaded once.
* **Resumable**: a clip whose landmark file exists is done and never redone; files appear
  atomically, so an interrupted run leaves no half-written file.
* **Honest**: every clip that yields nothing (unreadable, zero frames, no person in any frame,
  a crashed decoder) is listed with its reason in ``extract_skipped.csv``; a bad video never
  stops the run.
* **Shardable**: shard ``i`` of ``n`` processes every n-th clip of the sorted work list; each
  shard, when done, rewrites ``train.csv`` from every clip finished so far under a file lock, so
  the last shard to finish leaves the complete data set (or run with ``merge_only``).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from islr.atomic_io import exclusive_lock, write_text_atomic
from islr.data._util import default_workers
from islr.data._util import progress as progress_bar
from islr.data.batch_run import (
    build_sign_map,
    unfinished,
    write_csv,
    write_landmarks,
    write_sign_map,
)
from islr.data.reader import TRAIN_CSV_FILENAME, read_sign_map
from islr.data.video.discover import VideoClip, shard
from islr.data.video.environment import ensure_python
from islr.data.video.holistic import ClipLandmarks, HolisticProcess, HolisticSettings

__all__ = [
    "SKIPPED_CSV",
    "ExtractionReport",
    "build_sign_map",
    "extract_clips",
    "extract_dataset",
    "write_index",
]

log = logging.getLogger(__name__)

SKIPPED_CSV = "extract_skipped.csv"
_STATE_DIR = ".islr-extract"  # skip records and the merge lock


@dataclass
class ExtractionReport:
    """What one extraction run (one shard) did."""

    root: Path
    clips: int  # in this shard's work list
    extracted: int = 0  # done by this run
    already_done: int = 0  # found finished (resumed run)
    frames: int = 0  # frames extracted by this run
    worker_seconds: float = 0.0  # decode + Holistic time summed over workers
    seconds: float = 0.0  # wall-clock time of this run
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (video, reason)
    rows: int = 0  # rows of train.csv after this run
    pending: int = 0  # clips of the whole work list no run has finished or skipped yet

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def __str__(self) -> str:
        text = (
            f"extracted {self.extracted} clip(s) ({self.frames} frames, "
            f"{self.frames_per_second:.1f} frames/s), {self.already_done} already done, "
            f"{len(self.skipped)} skipped; train.csv has {self.rows} clip(s) in {self.root}"
        )
        if self.pending:
            text += f"; {self.pending} clip(s) still pending in other shards"
        return text


def _run_pool(
    clips: Sequence[VideoClip], settings: HolisticSettings, workers: int
) -> Iterator[tuple[VideoClip, ClipLandmarks]]:
    """Results in completion order; one thread per worker process feeds it clips."""
    todo: queue.Queue = queue.Queue()
    for clip in clips:
        todo.put(clip)
    done: queue.Queue = queue.Queue()
    stop = threading.Event()

    def serve() -> None:
        try:
            with HolisticProcess(settings) as holistic:
                while not stop.is_set():
                    try:
                        clip = todo.get_nowait()
                    except queue.Empty:
                        return
                    done.put((clip, holistic.extract(clip.video)))
        except BaseException as exc:  # reported to the caller, which re-raises it
            done.put((None, exc))

    threads = [threading.Thread(target=serve, daemon=True) for _ in range(workers)]
    for thread in threads:
        thread.start()
    try:
        for _ in range(len(clips)):
            clip, outcome = done.get()
            if clip is None:
                raise outcome
            yield clip, outcome
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)


def extract_clips(
    videos: Sequence[str | Path],
    settings: HolisticSettings | None = None,
    workers: int | None = 1,
) -> Iterator[ClipLandmarks]:
    """Landmarks of each video, in input order (errors reported in ``ClipLandmarks.error``)."""
    settings = settings or HolisticSettings()
    clips = [VideoClip(Path(v), "", 0, i) for i, v in enumerate(videos)]
    workers = min(default_workers(workers), max(1, len(clips)))
    ready: dict[int, ClipLandmarks] = {}
    following = 0
    for clip, outcome in _run_pool(clips, settings, workers):
        ready[clip.sequence_id] = outcome
        while following in ready:
            yield ready.pop(following)
            following += 1


def _skip_record(root: Path, clip: VideoClip) -> Path:
    return root / _STATE_DIR / "skipped" / f"{clip.sequence_id}.json"


def write_index(
    root: str | Path, clips: Sequence[VideoClip], sign_map_file: str | Path | None = None
) -> tuple[int, list[tuple[str, str]], int]:
    """Write the sign map, ``extract_skipped.csv`` and (last) ``train.csv`` of a data root.

    ``clips`` is the whole work list; a clip counts when its landmark file exists. Runs under a
    file lock, so concurrent shards never interleave their writes.

    Returns:
        (rows of train.csv, skipped ``(video, reason)`` pairs, clips neither done nor skipped)
    """
    root = Path(root)
    base = read_sign_map(sign_map_file) if sign_map_file is not None else None
    with exclusive_lock(root / _STATE_DIR / "lock"):
        done, skipped, pending = [], [], 0
        for clip in clips:
            record = _skip_record(root, clip)
            if (root / clip.relative_path).is_file():
                done.append(clip)
            elif record.is_file():
                skipped.append((clip, json.loads(record.read_text())["reason"]))
            else:
                pending += 1
        sign_map = build_sign_map({c.sign for c in done}, base)
        write_sign_map(root, sign_map)
        write_csv(
            root / SKIPPED_CSV,
            [["video", "sign", "reason"]] + [[str(c.video), c.sign, why] for c, why in skipped],
        )
        rows = [["path", "participant_id", "sequence_id", "sign"]]
        rows += [[c.relative_path, c.participant_id, c.sequence_id, c.sign] for c in done]
        # train.csv goes last: its presence marks a usable data root.
        write_csv(root / TRAIN_CSV_FILENAME, rows)
    return len(done), [(str(c.video), why) for c, why in skipped], pending


def extract_dataset(
    clips: Sequence[VideoClip],
    root: str | Path,
    *,
    settings: HolisticSettings | None = None,
    workers: int | None = None,
    shard_index: int = 0,
    shard_count: int = 1,
    sign_map_file: str | Path | None = None,
    progress: bool = True,
) -> ExtractionReport:
    """Extract this shard's part of ``clips`` into the data root ``root`` and index the result.

    Args:
        clips: the whole work list (from :func:`find_videos` / :func:`read_manifest`).
        root: the data root to write (created).
        settings: frame stride, max frames, mirroring and Holistic's model complexity.
        workers: extraction processes (default: the CPUs this process may use).
        shard_index: which part of the sorted work list this run takes (from 0).
        shard_count: in how many parts the work list is split.
        sign_map_file: an existing sign map to keep and extend (e.g. the Kaggle one).
        progress: show a progress bar (on a terminal).

    Raises:
        ExtractionEnvironmentError: MediaPipe's environment is not set up.
        DataError: ``sign_map_file`` is unreadable.
    """
    t0 = time.perf_counter()
    settings = settings or HolisticSettings()
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    if sign_map_file is not None:
        read_sign_map(sign_map_file)  # fail before any work, not after
    mine = shard(clips, shard_index, shard_count)
    report = ExtractionReport(root=root, clips=len(mine))
    todo = unfinished(mine, root)
    report.already_done = len(mine) - len(todo)
    if report.already_done:
        log.info("%d of %d clip(s) already extracted: not redone", report.already_done, len(mine))
    if todo:
        ensure_python()  # a missing environment is one clear error, before any work
        workers = min(default_workers(workers), len(todo))
        bar = progress_bar(len(todo), progress, "extract", unit="clip")
        skipped_now = 0
        for clip, outcome in _run_pool(todo, settings, workers):
            record = _skip_record(root, clip)
            if outcome.ok:
                assert outcome.frames is not None
                problem = write_landmarks(
                    root / clip.relative_path, outcome.frames, outcome.frame_numbers
                )
                if problem is not None:
                    outcome.error = problem
                else:
                    record.unlink(missing_ok=True)
                    report.extracted += 1
                    report.frames += len(outcome.frame_numbers)
                    report.worker_seconds += outcome.seconds
            if outcome.error is not None:
                skipped_now += 1
                log.warning("skipped %s: %s", clip.video, outcome.error)
                record.parent.mkdir(parents=True, exist_ok=True)
                write_text_atomic(
                    record, json.dumps({"video": str(clip.video), "reason": outcome.error})
                )
            bar.update(1)
            bar.set_postfix(frames=report.frames, skipped=skipped_now, refresh=False)
        bar.close()
    report.seconds = time.perf_counter() - t0
    report.rows, skipped, report.pending = write_index(root, clips, sign_map_file)
    mine_videos = {str(c.video) for c in mine}
    report.skipped = [(v, why) for v, why in skipped if v in mine_videos]
    return report
