"""Video extraction benchmark: ``islr-extract`` vs a bare MediaPipe Holistic loop, side by side.

Prints, from one run over the same real clips (``../shared/data/videos``, or --videos):
  - frames/s of a bare ``mp.solutions.holistic`` loop (one process: decode, Holistic, collect
    the landmarks; a fresh tracker per clip, as islr does), timed inside that process;
  - frames/s of islr's extraction with 1 worker, timed from outside (worker start-up, the
    pipe, the parquet writing and the index included), and its ratio to the bare loop
    (goal >= 0.9x per core);
  - frames/s with N workers (N = CPUs) and the scaling over 1 worker.
The two 1-process runs alternate (--repeats) and the best of each is kept (a noisy machine).

Usage: python bench/bench_extract.py [--videos DIR] [--clips 8] [--max-frames 0] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from islr.data._util import default_workers
from islr.data.video import HolisticSettings, ensure_python, extract_dataset, find_videos

VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos"

# The bare loop, run by the extraction environment's Python: what anyone would write first.
BARE_LOOP = r"""
import json, sys, time
import cv2, mediapipe as mp, numpy as np
paths, max_frames = json.loads(sys.argv[1]), int(sys.argv[2])
frames = 0
t0 = time.perf_counter()
for path in paths:
    cap = cv2.VideoCapture(path)
    n = 0
    with mp.solutions.holistic.Holistic(refine_face_landmarks=False) as holistic:
        while not max_frames or n < max_frames:
            ok, bgr = cap.read()
            if not ok:
                break
            res = holistic.process(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            rows = []
            for part, count in ((res.face_landmarks, 468), (res.left_hand_landmarks, 21),
                                (res.pose_landmarks, 33), (res.right_hand_landmarks, 21)):
                rows.append(np.array([(p.x, p.y, p.z) for p in part.landmark]) if part
                            else np.full((count, 3), np.nan))
            np.concatenate(rows)
            n += 1
    cap.release()
    frames += n
print(json.dumps({"frames": frames, "seconds": time.perf_counter() - t0}))
"""


def bare_rate(paths: list[Path], max_frames: int) -> tuple[int, float]:
    """(frames, frames/s) of the bare loop over ``paths``."""
    out = subprocess.run(
        [
            str(ensure_python()),
            "-c",
            BARE_LOOP,
            json.dumps([str(p) for p in paths]),
            str(max_frames),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return int(result["frames"]), result["frames"] / result["seconds"]


def islr_rate(clips, max_frames: int, workers: int) -> tuple[int, float]:
    """(frames, frames/s) of islr's extraction into a fresh data root, wall clock."""
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        report = extract_dataset(
            clips,
            Path(tmp) / "root",
            settings=HolisticSettings(max_frames=max_frames or None),
            workers=workers,
            progress=False,
        )
        seconds = time.perf_counter() - t0
    return report.frames, report.frames / seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=Path, default=VIDEOS, help="folder of <sign>/<clip>")
    parser.add_argument("--clips", type=int, default=8, help="clips used (default 8)")
    parser.add_argument("--max-frames", type=int, default=0, help="frames per clip (0 = all)")
    parser.add_argument("--repeats", type=int, default=2, help="alternating 1-process runs")
    parser.add_argument("--workers", type=int, help="N for the scaling row (default: CPUs)")
    args = parser.parse_args(argv)
    if not args.videos.is_dir():
        print(f"bench_extract: {args.videos} is absent; pass --videos DIR", file=sys.stderr)
        return 1
    ensure_python()
    clips = [c for c in find_videos([args.videos]) if c.video.parent.name != "face"][: args.clips]
    paths = [c.video for c in clips]
    print(f"{len(clips)} clips, up to {args.max_frames or 'all'} frames each, {args.videos}")

    bare_best = islr_best = 0.0
    for _ in range(args.repeats):
        frames_bare, rate = bare_rate(paths, args.max_frames)
        bare_best = max(bare_best, rate)
        frames_islr, rate = islr_rate(clips, args.max_frames, workers=1)
        islr_best = max(islr_best, rate)
    if frames_bare != frames_islr:
        print(f"note: bare loop saw {frames_bare} frames, islr {frames_islr}")
    workers = default_workers(args.workers)
    _, scaled = islr_rate(clips, args.max_frames, workers=workers)

    print(f"{'path':<34} {'frames/s':>9} {'ratio':>7}")
    print(f"{'bare Holistic loop (1 process)':<34} {bare_best:9.2f} {1.0:7.2f}")
    print(f"{'islr-extract, 1 worker':<34} {islr_best:9.2f} {islr_best / bare_best:7.2f}")
    print(f"{f'islr-extract, {workers} workers':<34} {scaled:9.2f} {scaled / bare_best:7.2f}")
    print(f"per core: islr / bare = {islr_best / bare_best:.2f}x (goal >= 0.9x)")
    print(f"scaling: {workers} workers / 1 worker = {scaled / islr_best:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
