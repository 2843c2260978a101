"""islr-import mp-data on the 12 real signers of ../shared/data/mp-data, and on broken copies.

The real recordings are imported once (through the console script) per module; the tests then
check that import against the files themselves and their MANIFEST.csv: every signer's layout,
the poor recordings in the skip report, the counts per sign and signer, the values of known
points, zeros as NaN. A tiny training on the imported root closes the loop.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import SHARED_DATA, require_shared
from fast_training import FAST, compose_train
from islr.data import read_landmark_file, read_train_csv
from islr.data.importers import (
    SKIPPED_CSV,
    LayoutError,
    SignNames,
    detect_layout,
    find_mp_data,
    layouts_of_length,
    sequence_id_of,
)
from islr.data.reader import read_sign_map
from islr.data.video import participant_id_of
from islr.landmarks import TYPE_OFFSETS

MP_DATA = SHARED_DATA / "mp-data"
BIN = Path(sys.executable).parent
# The recordings the data's README lists as having no hand in any frame.
NO_HAND = {
    ("25kamalesh+Translating_Silence_LSTM", "hello", "0"),
    ("Bobbybalaji+real-time-sign-language-detection", "hello", "0"),
    ("Bobbybalaji+real-time-sign-language-detection", "hello", "1"),
    *(("himadrir+sign-language-lstm", "undefined", s) for s in "123"),
    *(("riteshsah+RSLRS", sign, s) for sign in ("no", "yes") for s in "0123"),
}


def _import(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "islr-import"), *args], capture_output=True, text=True, timeout=300
    )


def _manifest() -> list[dict[str, str]]:
    with open(MP_DATA / "MANIFEST.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """All 12 real signers imported onto the Kaggle sign map (new signs appended)."""
    require_shared(MP_DATA)
    root = tmp_path_factory.mktemp("mp_import") / "root"
    done = _import("mp-data", str(MP_DATA), "--out", str(root), "--sign-map", "kaggle", "-q")
    assert done.returncode == 0, done.stderr
    return root, done


def _parquet(root: Path, signer: str, sign_folder: str, seq: str) -> Path:
    pid = participant_id_of(signer)
    return (
        root / f"train_landmark_files/{pid}/{sequence_id_of(pid, f'{sign_folder}/{seq}')}.parquet"
    )


def test_every_signers_layout_is_detected_as_the_manifest_says(imported) -> None:
    _, done = imported
    found = {}
    for line in done.stdout.splitlines():
        if line.startswith("layout of "):
            folder, _, layout = line.removeprefix("layout of ").partition(": ")
            name, length = layout.split(" (")[0], int(layout.split(" (")[1].split()[0])
            found[folder.split("/")[0]] = (name, length)
    expected = {r["signer_dir"]: (r["layout"], int(r["vector_length"])) for r in _manifest()}
    assert found == expected
    assert len(found) == 12 and found["SoyaChunkz+Sign-Language-Interpreter"][0] == "face_first"


def test_poor_recordings_are_reported_and_the_rest_counted_per_sign_and_signer(imported) -> None:
    root, done = imported
    with open(root / SKIPPED_CSV, newline="") as f:
        skipped = list(csv.DictReader(f))
    where = {tuple(Path(r["source"]).parts[-4:]) for r in skipped}
    assert {(s, sign, seq) for s, _, sign, seq in where} == NO_HAND
    assert all(r["reason"] == "no hand detected in any of 30 frames" for r in skipped)
    assert f"{len(NO_HAND)} skipped" in done.stdout and "SKIPPED" in done.stderr

    df = read_train_csv(root)
    kaggle = read_sign_map(None)
    names = SignNames(kaggle)
    expected: dict[tuple[int, str], int] = {}
    for row in _manifest():
        lost = sum((row["signer_dir"], row["sign_folder"]) == (s, g) for s, g, _ in NO_HAND)
        key = (participant_id_of(row["signer_dir"]), names.resolve(row["sign_folder"]))
        expected[key] = expected.get(key, 0) + int(row["sequences"]) - lost
    expected = {k: v for k, v in expected.items() if v}
    assert df.groupby(["participant_id", "sign"]).size().to_dict() == expected
    assert len(df) == 228 - len(NO_HAND) and df.participant_id.nunique() == 12
    # thanks / thank_you / thankyou, NO / No / no: one Kaggle sign each, at the Kaggle index
    assert {"thankyou", "no", "hello", "yes", "please"} <= set(df.sign)
    assert not {"thanks", "thank_you", "NO", "No"} & set(df.sign)
    sign_map = read_sign_map(root)
    assert all(sign_map[s] == i for s, i in kaggle.items()) and len(sign_map) > len(kaggle)


@pytest.mark.parametrize(
    ("signer", "pose", "face", "left", "right"),
    [
        ("25kamalesh+Translating_Silence_LSTM", 0, 132, 1536, 1599),  # pose first
        ("SoyaChunkz+Sign-Language-Interpreter", 1404, 0, 1536, 1599),  # face first
        ("AbdallaKonsowa+Sign-Language-Datection", 0, 132, 1536, 1620),  # hands 21×4
    ],
)
def test_values_are_the_npy_values_and_zeros_became_nan(
    imported, signer: str, pose: int, face: int, left: int, right: int
) -> None:
    root, _ = imported
    seq = MP_DATA / signer / "MP_Data" / "hello" / "2"
    frames = read_landmark_file(_parquet(root, signer, "hello", "2"))
    vectors = np.stack([np.load(seq / f"{i}.npy") for i in range(len(frames))])
    hand_width = 4 if signer.startswith("Abdalla") else 3
    blocks = {
        "pose": (pose, 4, 33),
        "face": (face, 3, 468),
        "left_hand": (left, hand_width, 21),
        "right_hand": (right, hand_width, 21),
    }
    missing_hands = 0
    for part, (start, width, count) in blocks.items():
        block = vectors[:, start : start + width * count].reshape(len(vectors), count, width)
        got = frames[:, TYPE_OFFSETS[part] : TYPE_OFFSETS[part] + count]
        missing = (block == 0).all(axis=(1, 2))
        assert np.isnan(got[missing]).all(), part
        np.testing.assert_allclose(got[~missing], block[~missing][..., :3], rtol=1e-6, err_msg=part)
        missing_hands += int(missing.sum()) if part.endswith("hand") else 0
    assert missing_hands > 0  # each of these recordings has frames with a hand not detected


def test_frames_are_ordered_by_number(imported) -> None:
    root, _ = imported
    signer = "AnoyRC+Sign-Detection-language"
    frames = read_landmark_file(_parquet(root, signer, "thanks", "1"))
    seq = MP_DATA / signer / "MP_Data" / "thanks" / "1"
    tenth = np.load(seq / "10.npy")[:132].reshape(33, 4)
    np.testing.assert_allclose(frames[10, TYPE_OFFSETS["pose"] :][:33, :2], tenth[:, :2], rtol=1e-6)


def test_a_second_run_redoes_nothing(imported) -> None:
    root, _ = imported
    files = sorted((root / "train_landmark_files").rglob("*.parquet"))
    stamps = [p.stat().st_mtime_ns for p in files]
    before = (root / "train.csv").read_text()
    done = _import("mp-data", str(MP_DATA), "--out", str(root), "--sign-map", "kaggle", "-q")
    assert done.returncode == 0, done.stderr
    assert "imported 0 of 228 recording(s) (0 frames)" in done.stdout
    assert f"{228 - len(NO_HAND)} already done" in done.stdout
    assert [p.stat().st_mtime_ns for p in files] == stamps
    assert (root / "train.csv").read_text() == before


def _copy_sequence(signer: str, sign: str, seq: str, dest: Path) -> Path:
    shutil.copytree(MP_DATA / signer / "MP_Data" / sign / seq, dest)
    return dest


def test_bad_recordings_are_skipped_with_their_reason(tmp_path) -> None:
    require_shared(MP_DATA)
    data = tmp_path / "alice" / "MP_Data"
    signer = "ADDY-AK+SIGN-LANGUAGE-RECOGNITION"
    for seq in "01":
        _copy_sequence(signer, "hello", seq, data / "hello" / seq)
    corrupt = _copy_sequence(signer, "thanks", "0", data / "thanks" / "0")
    (corrupt / "7.npy").write_bytes((corrupt / "7.npy").read_bytes()[:100])  # truncated
    (data / "thanks" / "1").mkdir()  # an empty sequence
    (data / "please").mkdir()  # a sign without sequences
    shutil.copy(MP_DATA / signer / "MP_Data" / "hello" / "0" / "0.npy", data / "please" / "0.npy")
    root = tmp_path / "root"
    done = _import("mp-data", str(tmp_path / "alice"), "--out", str(root), "-q")
    assert done.returncode == 0, done.stderr
    with open(root / SKIPPED_CSV, newline="") as f:
        reasons = {
            Path(r["source"]).relative_to(data).as_posix(): r["reason"] for r in csv.DictReader(f)
        }
    assert reasons.keys() == {"thanks/0", "thanks/1", "please/0.npy"}
    assert reasons["thanks/0"].startswith("unreadable frame file 7.npy")
    assert reasons["thanks/1"] == "empty sequence: no .npy frame files"
    assert "outside a <sequence> folder" in reasons["please/0.npy"]
    df = read_train_csv(root)
    assert len(df) == 2 and set(df.sign) == {"hello"}
    assert set(df.participant_id) == {participant_id_of("alice")}


def test_a_vector_length_of_no_layout_is_one_error_naming_the_file(tmp_path) -> None:
    require_shared(MP_DATA)
    seq = tmp_path / "bob" / "MP_Data" / "hello" / "0"
    seq.mkdir(parents=True)
    real = MP_DATA / "25kamalesh+Translating_Silence_LSTM" / "MP_Data" / "hello" / "1"
    for i in range(5):
        np.save(seq / f"{i}.npy", np.load(real / f"{i}.npy")[:1000])
    done = _import("mp-data", str(tmp_path / "bob"), "--out", str(tmp_path / "root"))
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("islr-import: data error: ")
    assert str(seq / "0.npy") in lines[0] and "1000 values per frame" in lines[0]


def test_strict_signs_skip_what_the_sign_map_lacks_and_a_manifest_names_signers(tmp_path) -> None:
    require_shared(MP_DATA)
    signer = MP_DATA / "SarmSKunatham+RealtimeSignLanguageRecognition" / "MP_Data"
    manifest = tmp_path / "m.csv"
    manifest.write_text(
        f"path,sign,participant_id\n{signer / 'goodbye'},,7\n{signer / 'no' / '0'},,8\n"
        f"{signer / 'yes' / '1'},yes,\n"
    )
    root = tmp_path / "root"
    args = ["--sign-map", "kaggle", "--strict-signs", "--participant-id", "9", "-q"]
    done = _import("mp-data", "--manifest", str(manifest), "--out", str(root), *args)
    assert done.returncode == 0, done.stderr
    df = read_train_csv(root)
    assert sorted(zip(df.participant_id, df.sign, strict=True)) == [(8, "no"), (9, "yes")]
    with open(root / SKIPPED_CSV, newline="") as f:
        skipped = list(csv.DictReader(f))
    assert len(skipped) == 4 and {r["participant_id"] for r in skipped} == {"7"}
    assert all("unknown sign 'goodbye'" in r["reason"] for r in skipped)


def test_layout_detection_on_real_vectors_and_variants() -> None:
    require_shared(MP_DATA)
    files = sorted((MP_DATA / "AnoyRC+Sign-Detection-language" / "MP_Data").rglob("*.npy"))[:120]
    pose_first = np.stack([np.load(f) for f in files])
    assert detect_layout(pose_first).name == "pose_first"
    face_first = np.concatenate(
        [pose_first[:, 132:1536], pose_first[:, :132], pose_first[:, 1536:]], 1
    )
    assert detect_layout(face_first).name == "face_first"
    # visibility kept for the face and the hands (MediaPipe's unused 4th field: zeros)
    face = np.concatenate([pose_first[:, 132:1536].reshape(-1, 468, 3), np.zeros((120, 468, 1))], 2)
    hands = np.concatenate([pose_first[:, 1536:].reshape(-1, 42, 3), np.zeros((120, 42, 1))], 2)
    wide = np.concatenate([pose_first[:, :132], face.reshape(120, -1), hands.reshape(120, -1)], 1)
    layout = detect_layout(wide)
    assert (layout.name, layout.length) == ("pose_first", 2172)
    np.testing.assert_array_equal(
        layout.to_frames(wide), layouts_of_length(1662)[0].to_frames(pose_first)
    )
    with pytest.raises(LayoutError, match="fit no known layout"):
        detect_layout(np.random.default_rng(0).normal(size=(50, 1662)))
    with pytest.raises(LayoutError, match="1000 values per frame"):
        detect_layout(pose_first[:, :1000])


def test_sign_names_resolve_spellings_aliases_and_the_map() -> None:
    kaggle = read_sign_map(None)
    names = SignNames(kaggle, {"thx": "thankyou"}, strict=True)
    assert [names.resolve(s) for s in ("thanks", "Thank_You", "thx", "NO", "tv", "hello")] == [
        "thankyou", "thankyou", "thankyou", "no", "TV", "hello",
    ]  # fmt: skip
    assert names.resolve("namaste") is None
    loose = SignNames(None)
    assert [loose.resolve(s) for s in ("i love you", "Good  Morning", "thank_you")] == [
        "iloveyou", "good morning", "thankyou",
    ]  # fmt: skip
    assert SignNames(None, builtin_aliases=False).resolve("thanks") == "thanks"


def test_find_mp_data_takes_one_signer_folder_or_its_mp_data_folder() -> None:
    require_shared(MP_DATA)
    signer = MP_DATA / "riteshsah+RSLRS"
    a, b = find_mp_data(signer), find_mp_data(signer / "MP_Data")
    assert [i.sequence_id for i in a] == [i.sequence_id for i in b] and len(a) == 20
    assert {i.participant_id for i in a} == {participant_id_of("riteshsah+RSLRS")}


@pytest.mark.slow
def test_the_imported_root_trains(imported, tmp_path) -> None:
    from islr.train import train

    root, _ = imported
    cfg = compose_train(
        [
            *FAST,
            f"data.root={root}",
            f"data.cache_dir={tmp_path / 'cache'}",
            "trainer.epochs=1",
            "trainer.limit_train_batches=1",
            "trainer.limit_val_batches=1",
            f"paths.output_dir={tmp_path / 'run'}",
        ]
    )
    result = train(cfg)
    assert (tmp_path / "run" / "checkpoints" / "best.keras").is_file()
    assert result is not None
