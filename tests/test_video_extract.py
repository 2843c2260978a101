"""Video extraction (``islr-extract``) with the real MediaPipe Holistic on real signing clips.

The 18 real clips in ``../shared/data/videos`` (one decodes to zero frames, one has spaces and
brackets in its name) are extracted once per session; tests that re-extract keep to a few
frames per clip (``max_frames``) to stay fast.
"""

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
import pyarrow.parquet as pq
import pytest

from islr.data import read_landmark_file, read_sign_map, read_train_csv
from islr.data.video import (
    SKIPPED_CSV,
    HolisticSettings,
    build_sign_map,
    extract_dataset,
    find_videos,
    participant_id_of,
    read_manifest,
)
from islr.landmarks import LHAND, RHAND, TYPE_OFFSETS

BIN = Path(sys.executable).parent
FEW = HolisticSettings(max_frames=6)
# The tests of the session's one full extraction run in the same pytest-xdist worker (make test
# runs --dist loadgroup), so that the ~70 s extraction happens once, not once per worker.
ONE_EXTRACTION = pytest.mark.xdist_group("real_video_extraction")


@pytest.fixture(scope="session")
def extracted(real_videos_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """All real clips extracted once: (data root, report, work list)."""
    root = tmp_path_factory.mktemp("video_root")
    clips = find_videos([real_videos_dir])
    report = extract_dataset(clips, root, workers=2, progress=False)
    return root, report, clips


def _some_videos(videos_dir: Path, n: int) -> list[Path]:
    good = [p for p in sorted(videos_dir.rglob("*.mp4")) if p.parent.name != "face"]
    return good[:n]


# --- the data root it writes --------------------------------------------------------------------
@ONE_EXTRACTION
def test_real_clips_become_the_exact_kaggle_layout(extracted, real_videos_dir) -> None:
    root, report, clips = extracted
    assert len(clips) == 18
    assert report.extracted == 17 and report.already_done == 0 and report.pending == 0
    # the broken clip is reported with its reason, not dropped silently
    assert report.skipped == [(str(real_videos_dir / "face" / "face_1.mp4"), report.skipped[0][1])]
    assert "zero frames" in report.skipped[0][1]
    skipped = pd.read_csv(root / SKIPPED_CSV)
    assert list(skipped.columns) == ["video", "sign", "reason"] and list(skipped.sign) == ["face"]

    df = read_train_csv(root)
    assert len(df) == report.rows == 17
    assert "yourself" in set(df.sign) and "face" not in set(df.sign)
    sign_map = read_sign_map(root)
    assert sign_map == {s: i for i, s in enumerate(sorted(set(df.sign)))}

    schema = pq.read_schema(root / df.path[0])
    assert [(f.name, str(f.type)) for f in schema] == [
        ("frame", "int16"),
        ("row_id", "string"),
        ("type", "string"),
        ("landmark_index", "int16"),
        ("x", "double"),
        ("y", "double"),
        ("z", "double"),
    ]
    for rel in df.path:
        frames = read_landmark_file(root / rel)  # validates the 543-row order of every frame
        assert frames.dtype == np.float32 and frames.shape[1:] == (543, 3)
    # one frame per decoded video frame, numbered from 0; row ids as Kaggle writes them
    table = pq.read_table(root / df.path[0]).to_pandas()
    frames = table.frame.unique()
    np.testing.assert_array_equal(frames, np.arange(len(frames)))
    assert table.row_id[0] == "0-face-0" and table.row_id[543 + 468] == "1-left_hand-0"


@ONE_EXTRACTION
def test_extracted_landmarks_look_like_the_real_kaggle_files(extracted, real_sample_root) -> None:
    """Face and pose in (nearly) every frame, a hand in most, coordinates normalised."""
    root, _, _ = extracted
    df = read_train_csv(root)
    clips = [read_landmark_file(root / rel) for rel in df.path]
    allframes = np.concatenate(clips)
    face = ~np.isnan(allframes[:, : TYPE_OFFSETS["left_hand"], 0]).all(1)
    pose = ~np.isnan(allframes[:, TYPE_OFFSETS["pose"] : TYPE_OFFSETS["right_hand"], 0]).all(1)
    hands = ~np.isnan(allframes[:, list(LHAND + RHAND), 0]).all(1)
    assert face.mean() > 0.9 and pose.mean() > 0.9 and hands.mean() > 0.5
    # the same statistics on the real Kaggle sample: extraction should be in the same range
    real = np.concatenate(
        [read_landmark_file(real_sample_root / p) for p in read_train_csv(real_sample_root).path]
    )
    real_hands = ~np.isnan(real[:, list(LHAND + RHAND), 0]).all(1)
    assert abs(hands.mean() - real_hands.mean()) < 0.3
    xy = allframes[:, : TYPE_OFFSETS["left_hand"], :2]
    assert np.nanmin(xy) > -0.1 and np.nanmax(xy) < 1.1  # face inside the image, normalised


# --- resumable, never redone ----------------------------------------------------------------------
@ONE_EXTRACTION
def test_rerun_redoes_nothing(extracted) -> None:
    root, _, clips = extracted
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*.parquet")}
    report = extract_dataset(clips, root, workers=1, progress=False)
    assert report.extracted == 0 and report.already_done == 17 and report.rows == 17
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*.parquet")} == before
    assert len(report.skipped) == 1  # the broken clip is tried again and reported again


def test_killed_run_leaves_no_half_file_and_resumes(real_videos_dir, tmp_path) -> None:
    inputs = [str(p) for p in _some_videos(real_videos_dir, 4)]
    out = tmp_path / "root"
    cmd = [str(BIN / "islr-extract"), *inputs, "--out", str(out), "--workers", "1", "-q"]
    proc = subprocess.Popen([*cmd, "--max-frames", "6"])
    deadline = time.time() + 120
    while time.time() < deadline and not list(out.rglob("*.parquet")):
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    finished = list(out.rglob("*.parquet"))
    assert 1 <= len(finished) <= 4
    for path in finished:  # every file that exists is whole
        assert read_landmark_file(path).shape == (6, 543, 3)
    done = subprocess.run(
        [*cmd, "--max-frames", "6"], capture_output=True, text=True, timeout=300, check=True
    )
    assert f"{len(finished)} already done" in done.stdout
    assert len(read_train_csv(out)) == 4


# --- labels, ids, sign maps ---------------------------------------------------------------------
def test_participant_and_sequence_ids(tmp_path) -> None:
    for signer in ("31", "alice"):
        (tmp_path / signer / "hello").mkdir(parents=True)
        (tmp_path / signer / "hello" / "a.MP4").write_bytes(b"")
    (tmp_path / "alice" / "hello" / "notes.txt").write_text("not a video")
    clips = find_videos([tmp_path])
    assert sorted(c.participant_id for c in clips) == sorted([31, participant_id_of("alice")])
    assert participant_id_of("alice") == participant_id_of("alice") != 31
    assert {c.sign for c in clips} == {"hello"} and len({c.sequence_id for c in clips}) == 2
    # the same clip gets the same id however its folder is given
    again = find_videos([tmp_path / "31" / "hello"])
    assert again[0].sequence_id == next(c for c in clips if c.participant_id == 31).sequence_id
    forced = find_videos([tmp_path / "31"], participant_id=7)
    assert forced[0].participant_id == 7
    assert forced[0].relative_path == f"train_landmark_files/7/{forced[0].sequence_id}.parquet"


def test_repeated_clips_dropped_and_clashing_names_refused(tmp_path) -> None:
    for copy in ("a", "b"):
        (tmp_path / copy / "31" / "hello").mkdir(parents=True)
        (tmp_path / copy / "31" / "hello" / "x.mp4").write_bytes(b"")
    once = find_videos([tmp_path / "a"])
    assert find_videos([tmp_path / "a", tmp_path / "a" / "31" / "hello" / "x.mp4"]) == once
    # another file with the same signer, sign and name would write the same landmark file
    with pytest.raises(ValueError, match=r"x\.mp4 and .*x\.mp4 map to the same clip"):
        find_videos([tmp_path / "a", tmp_path / "b"])


def test_manifest_labels_and_errors(tmp_path, real_videos_dir) -> None:
    hello = real_videos_dir / "hello" / "hello_1.mp4"
    manifest = tmp_path / "labels.csv"
    manifest.write_text(f"video,sign,participant_id\n{hello},greeting,12\n{hello},greeting,13\n")
    clips = read_manifest(manifest)
    assert [(c.sign, c.participant_id) for c in clips] == [("greeting", 12), ("greeting", 13)]
    bad = tmp_path / "bad.csv"
    bad.write_text(f"video,sign,participant_id\n{hello},x,twelve\n")
    with pytest.raises(ValueError, match=r"bad\.csv: row 2: participant_id 'twelve'"):
        read_manifest(bad)
    (tmp_path / "nosign.csv").write_text(f"video\n{hello}\n")
    with pytest.raises(ValueError, match=r"missing column\(s\) \['sign'\]"):
        read_manifest(tmp_path / "nosign.csv")


def test_sign_map_keeps_an_existing_map_and_appends_new_signs() -> None:
    kaggle = read_sign_map(None)
    extended = build_sign_map({"hello", "zzz-new", "aaa-new"}, kaggle)
    assert {k: extended[k] for k in kaggle} == kaggle
    assert extended["aaa-new"] == 250 and extended["zzz-new"] == 251
    assert build_sign_map({"b", "TV", "a"}) == {"TV": 0, "a": 1, "b": 2}  # Kaggle's sort order


def test_cli_with_manifest_and_kaggle_sign_map(tmp_path, real_videos_dir) -> None:
    videos = _some_videos(real_videos_dir, 2)
    manifest = tmp_path / "m.csv"
    rows = [f"{v},{v.parent.name},{i + 1}" for i, v in enumerate(videos)]
    manifest.write_text("video,sign,participant_id\n" + "\n".join(rows) + "\n")
    kaggle_map = real_videos_dir.parent / "sign_to_prediction_index_map.json"
    out = tmp_path / "root"
    result = subprocess.run(
        [
            *(str(BIN / "islr-extract"), "--manifest", str(manifest), "--out", str(out)),
            *("--sign-map", str(kaggle_map), "--max-frames", "4", "--stride", "2", "-q"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert read_sign_map(out) == read_sign_map(kaggle_map)  # all signs known: map unchanged
    df = read_train_csv(out)
    assert sorted(df.participant_id) == [1, 2]
    table = pq.read_table(out / df.path[0], columns=["frame"]).to_pandas()
    assert sorted(table.frame.unique()) == [0, 2, 4, 6]  # strided: decoded frame numbers


# --- bad videos and errors -----------------------------------------------------------------------
def test_bad_videos_are_skipped_with_reasons(tmp_path, real_videos_dir) -> None:
    folder = tmp_path / "videos" / "hello"
    folder.mkdir(parents=True)
    good = _some_videos(real_videos_dir, 1)[0]
    shutil.copy(good, folder / "good.mp4")
    data = good.read_bytes()
    (folder / "truncated.mp4").write_bytes(data[: len(data) // 3])
    (folder / "text.mp4").write_text("this is not a video")
    (folder / "empty.mov").write_bytes(b"")
    report = extract_dataset(find_videos([tmp_path / "videos"]), tmp_path / "out", settings=FEW)
    assert report.rows == 1
    reasons = {Path(v).name: why for v, why in report.skipped}
    assert set(reasons) == {"text.mp4", "empty.mov"} | (
        {"truncated.mp4"} if "truncated.mp4" in reasons else set()
    )
    assert all(why for why in reasons.values())
    listed = pd.read_csv(tmp_path / "out" / SKIPPED_CSV)
    assert sorted(Path(v).name for v in listed.video) == sorted(reasons)


def test_cli_errors_are_one_line(tmp_path) -> None:
    (tmp_path / "clip.txt").write_text("x")
    cases = [
        ([str(tmp_path / "clip.txt"), "--out", str(tmp_path / "o")], "not a video file"),
        ([str(tmp_path / "nothing"), "--out", str(tmp_path / "o")], "no such file or folder"),
        ([str(tmp_path)], "--out DATA_ROOT is required"),
    ]
    for args, message in cases:
        result = subprocess.run(
            [str(BIN / "islr-extract"), *args], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 1, args
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], result.stderr
    env = dict(os.environ, ISLR_MEDIAPIPE_ENV=str(tmp_path / "no-env"))
    (tmp_path / "v" / "hello").mkdir(parents=True)
    (tmp_path / "v" / "hello" / "a.mp4").write_bytes(b"")
    result = subprocess.run(
        [str(BIN / "islr-extract"), str(tmp_path / "v"), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode == 1 and "islr-extract --setup" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# --- shards on a real Hydra launcher -------------------------------------------------------------
def test_shards_with_the_joblib_launcher_cover_the_work_list(tmp_path, real_videos_dir) -> None:
    videos = _some_videos(real_videos_dir, 3)
    listing = ",".join(json.dumps(str(v)) for v in videos)
    out = tmp_path / "root"
    result = subprocess.run(
        [
            str(BIN / "islr-extract-shards"),
            "--multirun",
            "hydra/launcher=joblib",
            "hydra.launcher.n_jobs=2",
            f"hydra.sweep.dir={tmp_path / 'sweep'}",
            f"inputs=[{listing}]",
            f"out={out}",
            "holistic.max_frames=4",
            "shard.count=3",
            "shard.index=0,1,2",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    df = read_train_csv(out)
    assert sorted(df.sign) == sorted(v.parent.name for v in videos)
    assert len(list((tmp_path / "sweep").glob("shard*"))) == 3


def test_fuzzed_videos_extract_or_are_skipped_with_a_reason(tmp_path, real_videos_dir) -> None:
    """Byte flips and truncations of a real clip: each mutant is either extracted into a valid
    landmark file or listed as skipped with a reason; the run never stops."""
    source = (real_videos_dir / "hello" / "hello_1.mp4").read_bytes()
    rng = np.random.default_rng(7)
    folder = tmp_path / "videos" / "hello"
    folder.mkdir(parents=True)
    kinds = {}
    for i in range(12):
        data = bytearray(source)
        if i % 3 == 0:  # truncation at a random offset
            data = data[: int(rng.integers(0, len(data)))]
            kinds[f"m{i}.mp4"] = "truncated"
        elif i % 3 == 1:  # random byte flips
            where = rng.integers(0, len(data), size=int(rng.integers(1, 64)))
            for w in where:
                data[w] ^= int(rng.integers(1, 256))
            kinds[f"m{i}.mp4"] = "flipped"
        else:  # a corrupt header
            data[:64] = bytes(rng.integers(0, 256, size=64, dtype=np.uint8))
            kinds[f"m{i}.mp4"] = "header"
        (folder / f"m{i}.mp4").write_bytes(bytes(data))
    clips = find_videos([tmp_path / "videos"])
    report = extract_dataset(clips, tmp_path / "out", settings=FEW, workers=2, progress=False)
    skipped = {Path(v).name: why for v, why in report.skipped}
    extracted = read_train_csv(tmp_path / "out")
    assert len(skipped) + len(extracted) == len(clips) == 12  # every mutant accounted for
    assert all(why.strip() for why in skipped.values())
    for rel in extracted.path:
        frames = read_landmark_file(tmp_path / "out" / rel)
        assert 1 <= len(frames) <= 6
    outcome = {k: skipped.get(k, "extracted") for k in kinds}
    print("fuzzed videos:", {k: (kinds[k], outcome[k]) for k in sorted(kinds)})


def test_a_pose_model_that_would_be_downloaded_is_refused_in_one_line(
    tmp_path, real_videos_dir
) -> None:
    clip = _some_videos(real_videos_dir, 1)[0]
    result = subprocess.run(
        [str(BIN / "islr-extract"), str(clip), "--model-complexity", "2", "--out", "o", "-q"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "never downloads" in lines[0] and "model_complexity=1" in lines[0]
