""".pose files: islr-import pose on real MediaPipe Holistic files, and islr-import to-pose.

The real files are the pose-format project's own test data (../shared/data/pose); round trips
go through pose-format itself: islr's parquet -> .pose -> pose-format reads it -> islr-import
pose -> parquet, equal within float32 tolerance.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import REAL_SAMPLE, SHARED_DATA, require_shared
from islr.data import read_landmark_file, read_sign_map, read_train_csv
from islr.data.importers import (
    SKIPPED_CSV,
    PoseFileError,
    read_pose_file,
    sequence_id_of,
    write_pose_file,
)
from islr.data.importers.holistic_points import FACE_CONTOUR_LIMBS, component_points
from islr.landmarks import TYPE_OFFSETS

pose_format = pytest.importorskip("pose_format", reason='needs pip install "islr[pose]"')

POSE_DIR = SHARED_DATA / "pose"
BIN = Path(sys.executable).parent
PARTS = {
    "POSE_LANDMARKS": "pose",
    "FACE_LANDMARKS": "face",
    "LEFT_HAND_LANDMARKS": "left_hand",
    "RIGHT_HAND_LANDMARKS": "right_hand",
}


def _import(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "islr-import"), *args], capture_output=True, text=True, timeout=300
    )


def _reference(path: Path):
    return pose_format.Pose.read(path.read_bytes())


def _expected_frames(pose) -> np.ndarray:
    """Kaggle frames from pose-format's own arrays: named points / (width, height, 1)."""
    header = pose.header
    data = np.ma.getdata(pose.body.data)[:, 0].astype(np.float64)
    conf = np.asarray(pose.body.confidence)[:, 0]
    out = np.full((len(data), 543, 3), np.nan)
    offset = 0
    scale = np.array([header.dimensions.width, header.dimensions.height, 1.0])
    for component in header.components:
        part = PARTS.get(component.name)
        for j, name in enumerate(component.points):
            if part is not None:
                row = TYPE_OFFSETS[part] + component_points(part).index(str(name))
                seen = conf[:, offset + j] > 0
                out[seen, row] = data[seen, offset + j] / scale
        offset += len(component.points)
    return out


@pytest.mark.parametrize(
    "name", ["mediapipe.pose", "mediapipe_long.pose", "mediapipe_hand_normalized.pose"]
)
def test_real_pose_files_read_as_kaggle_frames(name: str) -> None:
    path = require_shared(POSE_DIR / name)
    got = read_pose_file(path)
    reference = _reference(path)
    assert got.frames.shape == (reference.body.data.shape[0], 543, 3)
    assert (got.width, got.height, got.fps) == (
        reference.header.dimensions.width,
        reference.header.dimensions.height,
        reference.body.fps,
    )
    np.testing.assert_allclose(got.frames, _expected_frames(reference), rtol=1e-6, equal_nan=True)
    # confidence 0 became NaN: as many missing values as pose-format masks
    known = np.isfinite(got.frames[..., 0]).sum()
    assert known == int((np.asarray(reference.body.confidence)[:, 0] > 0).sum())
    if name == "mediapipe_hand_normalized.pose":  # hands only: every other part is NaN
        right = slice(TYPE_OFFSETS["right_hand"], TYPE_OFFSETS["right_hand"] + 21)
        others = np.ones(543, bool)
        others[right] = False
        assert np.isnan(got.frames[:, others]).all() and np.isfinite(got.frames[:, right]).any()
    else:  # pose-format's reduced holistic: 8 pose, 128 face and 2 × 21 hand points
        named = {
            TYPE_OFFSETS[PARTS[c.name]] + component_points(PARTS[c.name]).index(str(p))
            for c in reference.header.components
            for p in c.points
        }
        seen = set(np.flatnonzero(np.isfinite(got.frames[..., 0]).any(axis=0)).tolist())
        assert len(named) == 8 + 128 + 42 and seen <= named and len(seen) > 100
        assert np.nanmin(got.frames[..., :2]) > 0.0 and np.nanmax(got.frames[..., :2]) < 1.2


def test_our_face_limbs_are_mediapipes_contours() -> None:
    """The face contour limbs islr writes are limbs of the real MediaPipe file, on its points."""
    face = next(
        c for c in _reference(require_shared(POSE_DIR / "mediapipe.pose")).header.components
        if c.name == "FACE_LANDMARKS"
    )  # fmt: skip
    theirs = {frozenset((face.points[a], face.points[b])) for a, b in face.limbs}
    ours = {frozenset((str(a), str(b))) for a, b in FACE_CONTOUR_LIMBS}
    assert ours <= theirs and {p for limb in ours for p in limb} == set(face.points)


def _sample_root(tmp_path: Path) -> Path:
    """A few real Kaggle files as a data root (two signers, two signs)."""
    df = read_train_csv(require_shared(REAL_SAMPLE))
    picked = df[df.sign.isin(["hello", "thankyou"])].groupby("participant_id").head(2).head(6)
    root = tmp_path / "kaggle"
    for rel in picked.path:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REAL_SAMPLE / rel, root / rel)
    picked.to_csv(root / "train.csv", index=False)
    shutil.copy(REAL_SAMPLE / "sign_to_prediction_index_map.json", root)
    return root


def test_round_trip_through_pose_format(tmp_path) -> None:
    root = _sample_root(tmp_path)
    poses = tmp_path / "poses"
    done = _import("to-pose", str(root), "--out", str(poses), "--width", "640", "--height", "480")
    assert done.returncode == 0, done.stderr
    df = read_train_csv(root)
    assert f"wrote {len(df)} of {len(df)} .pose file(s)" in done.stdout
    for row in df.itertuples():
        written = poses / str(row.participant_id) / row.sign / f"{row.sequence_id}.pose"
        pose = _reference(written)  # pose-format itself reads it
        assert [c.name for c in pose.header.components] == list(PARTS)
        assert (pose.header.dimensions.width, pose.header.dimensions.height) == (640, 480)
        ours = read_landmark_file(root / row.path)
        np.testing.assert_allclose(_expected_frames(pose), ours, rtol=1e-6, equal_nan=True)
    again = _import("to-pose", str(root), "--out", str(poses), "-q")
    assert f"wrote 0 of {len(df)} .pose file(s)" in again.stdout and "already done" in again.stdout

    back = tmp_path / "back"
    done = _import("pose", str(poses), "--out", str(back), "-q")
    assert done.returncode == 0, done.stderr
    imported = read_train_csv(back)
    key = ["participant_id", "sign"]
    assert imported.groupby(key).size().to_dict() == df.groupby(key).size().to_dict()
    assert len(imported) == len(df)
    for row in df.itertuples():  # the .pose file's folder and name identify the recording
        pose_id = sequence_id_of(row.participant_id, f"{row.sign}/{row.sequence_id}.pose")
        again = back / f"train_landmark_files/{row.participant_id}/{pose_id}.parquet"
        np.testing.assert_allclose(
            read_landmark_file(again), read_landmark_file(root / row.path), rtol=1e-6,
            equal_nan=True,
        )  # fmt: skip


def test_real_pose_files_import_and_a_truncated_one_is_skipped(tmp_path) -> None:
    src = tmp_path / "carol" / "hello"
    src.mkdir(parents=True)
    for name in ("mediapipe.pose", "mediapipe_hand_normalized.pose"):
        shutil.copy(require_shared(POSE_DIR / name), src / name)
    data = (POSE_DIR / "mediapipe_long.pose").read_bytes()
    (src / "truncated.pose").write_bytes(data[: len(data) // 3])
    with pytest.raises(PoseFileError, match=r"truncated\.pose: not a readable \.pose file"):
        read_pose_file(src / "truncated.pose")
    root = tmp_path / "root"
    done = _import("pose", str(tmp_path / "carol"), "--out", str(root), "--sign-map", "kaggle")
    assert done.returncode == 0, done.stderr
    df = read_train_csv(root)
    assert len(df) == 2 and set(df.sign) == {"hello"}
    with open(root / SKIPPED_CSV, newline="") as f:
        skipped = list(csv.DictReader(f))
    assert [Path(r["source"]).name for r in skipped] == ["truncated.pose"]
    assert skipped[0]["reason"].startswith("not a readable .pose file")
    for row in df.itertuples():
        frames = read_landmark_file(root / row.path)
        assert np.isfinite(frames[:, TYPE_OFFSETS["right_hand"]]).any()

    # a second import into the same root adds its rows and keeps the map's indices
    more = tmp_path / "dave" / "my sign"
    more.mkdir(parents=True)
    shutil.copy(POSE_DIR / "mediapipe_long.pose", more / "long.pose")
    done = _import("pose", str(tmp_path / "dave"), "--out", str(root), "-q")
    assert done.returncode == 0, done.stderr
    assert len(read_train_csv(root)) == 3
    sign_map, kaggle = read_sign_map(root), read_sign_map(None)
    assert all(sign_map[s] == i for s, i in kaggle.items()) and sign_map["my sign"] == len(kaggle)


def test_writer_checks_its_input_and_marks_missing_points(tmp_path) -> None:
    frames = np.full((3, 543, 3), np.nan, np.float32)
    frames[:, TYPE_OFFSETS["left_hand"] : TYPE_OFFSETS["left_hand"] + 21] = 0.25
    write_pose_file(tmp_path / "a.pose", frames, width=100, height=50, fps=25)
    pose = _reference(tmp_path / "a.pose")
    conf = np.asarray(pose.body.confidence)[:, 0]
    assert conf.sum() == 3 * 21 and pose.body.fps == 25
    np.testing.assert_allclose(read_pose_file(tmp_path / "a.pose").frames, frames, equal_nan=True)
    with pytest.raises(ValueError, match="shape"):
        write_pose_file(tmp_path / "b.pose", frames[:, :500], width=100, height=50, fps=25)


def test_a_missing_pose_format_is_one_line_naming_the_extra(tmp_path) -> None:
    code = (
        "import sys; sys.modules['pose_format'] = None\n"
        "from islr.cli.import_ import main\n"
        f"sys.exit(main(['pose', {str(tmp_path)!r}, '--out', {str(tmp_path / 'r')!r}]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "islr-import: data error: .pose files need the pose-format package: "
        'pip install "islr[pose]"'
    )


def test_world_landmarks_are_ignored_and_2d_files_get_zero_depth(tmp_path) -> None:
    """A file pose-format writes with POSE_WORLD_LANDMARKS before the image-space pose, in XYC."""
    from pose_format.numpy import NumPyPoseBody
    from pose_format.pose_header import PoseHeader, PoseHeaderComponent, PoseHeaderDimensions

    names = list(component_points("pose"))
    components = [
        PoseHeaderComponent(name, names, [(11, 12)], [(255, 0, 0)], "XYC")
        for name in ("POSE_WORLD_LANDMARKS", "POSE_LANDMARKS")
    ]
    header = PoseHeader(0.2, PoseHeaderDimensions(200, 100, 0), components)
    data = np.random.default_rng(0).uniform(1, 99, size=(4, 1, 66, 2)).astype(np.float32)
    confidence = np.ones((4, 1, 66), np.float32)
    confidence[2, 0, 33 + 5] = 0
    pose = pose_format.Pose(header, NumPyPoseBody(30, data, confidence))
    with open(tmp_path / "w.pose", "wb") as f:
        pose.write(f)
    frames = read_pose_file(tmp_path / "w.pose").frames
    rows = slice(TYPE_OFFSETS["pose"], TYPE_OFFSETS["pose"] + 33)
    expected = data[:, 0, 33:] / np.array([200, 100], np.float32)
    expected[2, 5] = np.nan
    np.testing.assert_allclose(frames[:, rows, :2], expected, rtol=1e-6)
    assert (frames[:, rows, 2][np.isfinite(expected[..., 0])] == 0).all()
    others = np.ones(543, bool)
    others[rows] = False
    assert np.isnan(frames[:, others]).all()
