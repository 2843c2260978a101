"""Reader: round trip, validation errors, sign map and train.csv."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from islr.data import (
    LandmarkFileError,
    read_landmark_file,
    read_sign_map,
    read_train_csv,
    resolve_path,
    write_landmark_file,
)
from islr.errors import DataError


def _frames(n: int = 4, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    frames = rng.uniform(0, 1, (n, 543, 3))
    frames[1, 468:489] = np.nan  # an undetected hand
    return frames


@pytest.fixture
def good_file(tmp_path: Path) -> Path:
    path = tmp_path / "good.parquet"
    write_landmark_file(path, _frames(), first_frame=17)
    return path


def _rewrite(path: Path, table: pa.Table) -> Path:
    out = path.with_name("bad.parquet")
    pq.write_table(table, out)
    return out


def test_round_trip_keeps_values_and_nan(good_file: Path) -> None:
    frames = _frames()
    got = read_landmark_file(good_file)
    assert got.dtype == np.float32
    assert got.shape == (4, 543, 3)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(frames))
    np.testing.assert_allclose(got, frames.astype(np.float32), equal_nan=True)


def test_reads_nulls_as_nan(good_file: Path) -> None:
    table = pq.read_table(good_file)
    x = table.column("x").to_numpy().copy()
    mask = np.zeros(len(x), bool)
    mask[5] = True
    table = table.set_column(4, "x", pa.array(x, mask=mask))
    got = read_landmark_file(_rewrite(good_file, table))
    assert np.isnan(got[0, 5, 0])


def _expect(path: Path, fragment: str) -> None:
    with pytest.raises(LandmarkFileError) as info:
        read_landmark_file(path)
    assert info.value.path == str(path)
    assert fragment in info.value.problem
    assert str(info.value).startswith(str(path))


def test_missing_file(tmp_path: Path) -> None:
    _expect(tmp_path / "nope.parquet", "does not exist")


def test_not_parquet(tmp_path: Path) -> None:
    path = tmp_path / "junk.parquet"
    path.write_bytes(b"this is not a parquet file at all" * 10)
    _expect(path, "not a readable parquet")


def test_truncated(good_file: Path) -> None:
    data = good_file.read_bytes()
    good_file.write_bytes(data[: len(data) // 2])
    with pytest.raises(LandmarkFileError, match=str(good_file.name)):
        read_landmark_file(good_file)


@pytest.mark.parametrize("column", ["z", "type", "frame"])
def test_missing_column(good_file: Path, column: str) -> None:
    table = pq.read_table(good_file).drop_columns([column])
    _expect(_rewrite(good_file, table), f"missing column(s) ['{column}']")


def test_row_count_not_multiple(good_file: Path) -> None:
    table = pq.read_table(good_file).slice(0, 543 * 2 + 5)
    _expect(_rewrite(good_file, table), "not a multiple of 543")


def test_zero_frames(good_file: Path) -> None:
    table = pq.read_table(good_file).slice(0, 0)
    _expect(_rewrite(good_file, table), "zero frames")


def test_rows_out_of_order(good_file: Path) -> None:
    table = pq.read_table(good_file)
    order = np.arange(table.num_rows)
    order[[3, 4]] = order[[4, 3]]  # two face landmarks swapped in the first frame
    _expect(_rewrite(good_file, table.take(order)), "out of the fixed landmark order")


def test_hands_swapped(good_file: Path) -> None:
    # Same landmark_index sequence, but right_hand rows where left_hand rows belong.
    table = pq.read_table(good_file)
    order = np.arange(table.num_rows)
    lh, rh = np.arange(468, 489), np.arange(522, 543)
    order[lh], order[rh] = rh, lh
    _expect(_rewrite(good_file, table.take(order)), "type")


def test_frames_not_contiguous(good_file: Path) -> None:
    table = pq.read_table(good_file)
    frame = table.column("frame").to_numpy().copy()
    frame[600] = frame[0]  # one row of frame 2 claims to be frame 1
    table = table.set_column(0, "frame", pa.array(frame, pa.int16()))
    _expect(_rewrite(good_file, table), "not contiguous")


def test_repeated_frame_number(good_file: Path) -> None:
    table = pq.read_table(good_file)
    frame = table.column("frame").to_numpy().copy()
    frame[543:1086] = frame[0]
    table = table.set_column(0, "frame", pa.array(frame, pa.int16()))
    _expect(_rewrite(good_file, table), "more than one block")


def test_infinite_values(good_file: Path) -> None:
    table = pq.read_table(good_file)
    y = table.column("y").to_numpy().copy()
    y[10] = np.inf
    table = table.set_column(5, "y", pa.array(y))
    _expect(_rewrite(good_file, table), "infinite")


def test_non_numeric_coordinates(good_file: Path) -> None:
    table = pq.read_table(good_file)
    table = table.set_column(4, "x", pc.cast(table.column("x"), pa.string()))
    _expect(_rewrite(good_file, table), "not a number")


# --- sign map ------------------------------------------------------------------------------
def test_packaged_sign_map() -> None:
    sign_map = read_sign_map()
    assert len(sign_map) == 250
    assert sorted(sign_map.values()) == list(range(250))
    assert sign_map["TV"] == 0 and sign_map["zipper"] == 249


def test_sign_map_from_root_and_errors(tmp_path: Path) -> None:
    (tmp_path / "sign_to_prediction_index_map.json").write_text(json.dumps({"a": 1, "b": 0}))
    assert read_sign_map(tmp_path) == {"a": 1, "b": 0}
    bad = tmp_path / "dup.json"
    bad.write_text(json.dumps({"a": 0, "b": 0}))
    with pytest.raises(DataError, match=r"dup\.json"):
        read_sign_map(bad)
    with pytest.raises(DataError, match="not found"):
        read_sign_map(tmp_path / "missing.json")


# --- train.csv ------------------------------------------------------------------------------
def _write_csv(root: Path, rows: list[str], header: str = "path,participant_id,sequence_id,sign"):
    root.mkdir(parents=True, exist_ok=True)
    (root / "train.csv").write_text("\n".join([header, *rows]) + "\n")


def test_train_csv_labels_from_packaged_map(tmp_path: Path) -> None:
    _write_csv(tmp_path, ["a/1.parquet,26734,1000035562,blow", "a/2.parquet,28656,7,TV"])
    df = read_train_csv(tmp_path)
    assert list(df.columns) == ["path", "participant_id", "sequence_id", "sign", "label"]
    assert df["label"].tolist() == [read_sign_map()["blow"], 0]
    assert df["participant_id"].dtype == np.int64 and df["sequence_id"].dtype == np.int64
    assert resolve_path(tmp_path, df["path"][0]) == tmp_path / "a" / "1.parquet"


def test_train_csv_unknown_sign_names_sign_and_row(tmp_path: Path) -> None:
    _write_csv(tmp_path, ["a/1.parquet,1,1,TV", "a/2.parquet,1,2,flibbertigibbet"])
    with pytest.raises(DataError, match=r"row 3.*flibbertigibbet"):
        read_train_csv(tmp_path)


def test_train_csv_missing_file_and_columns(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"train\.csv not found"):
        read_train_csv(tmp_path)
    _write_csv(tmp_path, ["a/1.parquet,1,TV"], header="path,participant_id,sign")
    with pytest.raises(DataError, match="sequence_id"):
        read_train_csv(tmp_path)
