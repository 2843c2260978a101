"""Fuzzed inputs: mutated real Kaggle parquet files either read as a valid ``[T, 543, 3]`` array or
raise islr's own error naming the file -- never any other exception; the cache build skips and
reports exactly the bad ones.

Mutations (seeded, deterministic): byte flips, truncation at random offsets, row groups written
in shuffled order, columns of the wrong type (or missing), NaN / inf / null injections. Run with
``-s`` to see the counts.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from islr.data import build_cache, open_cache, read_landmark_file
from islr.errors import DataError

N_PER_KIND = 60
SEED = 12


# --- mutations: each takes (source bytes, source table, rng) and writes the mutant to a path ---
def _byte_flips(data: bytes, table: pa.Table, rng: np.random.Generator, out: Path) -> str:
    raw = bytearray(data)
    n = int(rng.integers(1, 40))
    # Half the time aim at the footer (schema, row-group metadata), where flips do the most harm.
    lo = 0 if rng.random() < 0.5 else max(0, len(raw) - 2000)
    for pos in rng.integers(lo, len(raw), size=n):
        raw[pos] ^= int(rng.integers(1, 256))
    out.write_bytes(bytes(raw))
    return f"{n} bytes flipped"


def _truncate(data: bytes, table: pa.Table, rng: np.random.Generator, out: Path) -> str:
    cut = int(rng.integers(0, len(data)))
    out.write_bytes(data[:cut])
    return f"cut at {cut}/{len(data)}"


def _shuffled_row_groups(data: bytes, table: pa.Table, rng: np.random.Generator, out: Path) -> str:
    # Row groups of a random size (a whole number of frames or not), written in shuffled order.
    size = int(rng.choice([543, 1086, int(rng.integers(100, 3000))]))
    size = min(size, table.num_rows // 2)  # at least two groups to shuffle
    groups = [table.slice(i, size) for i in range(0, table.num_rows, size)]
    order = rng.permutation(len(groups))
    if len(groups) > 1 and (order == np.arange(len(groups))).all():
        order = order[::-1]
    with pq.ParquetWriter(out, table.schema) as writer:
        for i in order:
            writer.write_table(groups[i], row_group_size=size)
    return f"{len(groups)} groups of {size} rows shuffled"


_CASTS: list[tuple[str, pa.DataType]] = [
    ("x", pa.string()),
    ("y", pa.int64()),
    ("z", pa.float32()),
    ("x", pa.bool_()),
    ("frame", pa.string()),
    ("frame", pa.float64()),
    ("landmark_index", pa.float64()),
    ("landmark_index", pa.string()),
    ("type", pa.int32()),
    ("type", pa.binary()),
    ("type", pa.large_string()),
    ("row_id", pa.int64()),
]


def _cast_column(table: pa.Table, name: str, to: pa.DataType) -> pa.Table:
    column = table.column(name)
    if to == pa.bool_():
        values = pc.greater(column, 0.5)
    elif pa.types.is_string(column.type) and pa.types.is_integer(to):
        values = pa.array(np.arange(table.num_rows) % 7, type=to)
    elif pa.types.is_integer(to) and pa.types.is_floating(column.type):
        values = pc.cast(pc.round(pc.multiply(pc.fill_null(column, 0.0), 1000)), to, safe=False)
    else:
        values = column.cast(to, safe=False)
    return table.set_column(table.schema.get_field_index(name), name, values)


def _wrong_types(data: bytes, table: pa.Table, rng: np.random.Generator, out: Path) -> str:
    choice = int(rng.integers(0, len(_CASTS) + 3))
    if choice < len(_CASTS):
        name, to = _CASTS[choice]
        mutated, what = _cast_column(table, name, to), f"{name} as {to}"
    elif choice == len(_CASTS):
        name = str(rng.choice(["x", "frame", "type", "landmark_index"]))
        mutated, what = table.drop_columns([name]), f"{name} dropped"
    elif choice == len(_CASTS) + 1:
        name = str(rng.choice(["x", "landmark_index"]))
        names = [("other" if n == name else n) for n in table.column_names]
        mutated, what = table.rename_columns(names), f"{name} renamed"
    else:
        mutated, what = table.slice(0, 0), "no rows"
    pq.write_table(mutated, out)
    return what


def _nan_inf(data: bytes, table: pa.Table, rng: np.random.Generator, out: Path) -> str:
    name = str(rng.choice(["x", "y", "z", "x", "landmark_index", "frame"]))
    value = rng.choice(["nan", "inf", "-inf", "null"]) if name in "xyz" else "null"
    column = table.column(name).to_numpy(zero_copy_only=False).copy()
    rows = rng.integers(0, len(column), size=int(rng.integers(1, 50)))
    mask = np.zeros(len(column), dtype=bool)
    mask[rows] = True
    if value == "null":
        array = pa.array(column, mask=mask, type=table.schema.field(name).type)
    else:
        column[rows] = float(value)
        array = pa.array(column, type=table.schema.field(name).type)
    pq.write_table(table.set_column(table.schema.get_field_index(name), name, array), out)
    return f"{value} in {len(np.unique(rows))} {name} value(s)"


MUTATIONS: dict[str, Callable[..., str]] = {
    "byte_flips": _byte_flips,
    "truncation": _truncate,
    "shuffled_row_groups": _shuffled_row_groups,
    "wrong_types": _wrong_types,
    "nan_inf_null": _nan_inf,
}


def _outcome(path: Path) -> tuple[str, str]:
    """("array" | "DataError" | "FOREIGN", detail) for one read; asserts the array contract."""
    try:
        frames = read_landmark_file(path)
    except DataError as exc:
        if str(path) not in str(exc):
            return "FOREIGN", f"DataError without the file name: {exc}"
        return "DataError", str(exc)
    except Exception as exc:  # the fuzzer's target: anything that is not islr's error
        return "FOREIGN", f"{type(exc).__name__}: {exc}"
    ok = (
        isinstance(frames, np.ndarray)
        and frames.dtype == np.float32
        and frames.ndim == 3
        and frames.shape[0] >= 1
        and frames.shape[1:] == (543, 3)
        and not np.isinf(frames).any()
    )
    return ("array", "") if ok else ("FOREIGN", f"invalid array {getattr(frames, 'shape', None)}")


def _sources(root: Path, count: int) -> list[Path]:
    files = sorted((root / "train_landmark_files").glob("*/*.parquet"))
    return sorted(files, key=lambda p: p.stat().st_size)[:count]  # small files: fast


def test_reader_on_mutated_real_files(real_sample_root: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(SEED)
    sources = _sources(real_sample_root, 12)
    loaded = [(p.read_bytes(), pq.read_table(p)) for p in sources]
    counts: Counter = Counter()
    foreign: list[str] = []
    for kind, mutate in MUTATIONS.items():
        for i in range(N_PER_KIND):
            j = int(rng.integers(0, len(sources)))
            data, table = loaded[j]
            out = tmp_path / f"{kind}-{i}-{sources[j].name}"
            what = mutate(data, table, rng, out)
            result, detail = _outcome(out)
            counts[(kind, result)] += 1
            if result == "FOREIGN":
                foreign.append(f"{kind} ({what}) on {sources[j].name}: {detail}")
            elif kind == "nan_inf_null" and what.startswith(("inf", "-inf")):
                assert result == "DataError" and "infinite" in detail, (what, detail)
            elif kind == "nan_inf_null" and what.startswith("nan"):
                assert result == "array", (what, detail)  # NaN means "not detected": valid
            out.unlink()
    print("\nfuzzed reads (mutation, outcome): count")
    for kind in MUTATIONS:
        row = {r: counts[(kind, r)] for r in ("array", "DataError", "FOREIGN")}
        print(f"  {kind:<20} {row}")
    print(f"  total {sum(counts.values())}")
    assert not foreign, "\n".join(foreign[:20])
    # The fuzzer did exercise both outcomes of most mutations.
    assert counts[("truncation", "DataError")] > N_PER_KIND // 2
    # Rows or whole frames out of order are always caught.
    assert counts[("shuffled_row_groups", "array")] == 0
    assert counts[("nan_inf_null", "array")] > 0 and counts[("nan_inf_null", "DataError")] > 0


def test_invalid_utf8_in_the_footer_is_a_data_error(real_sample_root: Path, tmp_path: Path):
    # Found by the fuzzer: pyarrow raised UnicodeDecodeError opening such a file.
    raw = bytearray(_sources(real_sample_root, 1)[0].read_bytes())
    footer = len(raw) - 8 - int.from_bytes(raw[-8:-4], "little")  # thrift metadata
    pos = raw.index(b"landmark_index", footer)  # the column's name in the schema
    raw[pos + 1] = 0xC8
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(bytes(raw))
    with pytest.raises(DataError, match=r"bad\.parquet: not a readable parquet file \(Unicode"):
        read_landmark_file(bad)


def test_cache_build_skips_exactly_the_bad_files(real_sample_root: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(real_sample_root, root)
    df = pd.read_csv(root / "train.csv")
    rng = np.random.default_rng(SEED + 1)
    bad: dict[str, str] = {}
    kinds = list(MUTATIONS)
    for n, i in enumerate(rng.choice(len(df), size=25, replace=False)):
        path = root / df["path"][i]
        src = tmp_path / "src.parquet"
        shutil.copy(path, src)
        kind = kinds[n % len(kinds)]
        MUTATIONS[kind](src.read_bytes(), pq.read_table(src), rng, path)
        result, detail = _outcome(path)
        assert result != "FOREIGN", detail
        if result == "DataError":
            bad[df["path"][i]] = kind
    (root / df["path"][len(df) - 1]).unlink()  # listed but missing
    bad[df["path"][len(df) - 1]] = "missing"
    report = build_cache(root, tmp_path / "cache", num_folds=2, workers=2, progress=False)
    print(f"\ncache build: {len(df)} files, {len(bad)} bad (by kind {Counter(bad.values())})")
    assert {p for p, _ in report.skipped} == set(bad)
    cache = open_cache(tmp_path / "cache")
    good = df[~df["path"].isin(bad)]
    assert cache.sequence_ids.tolist() == good["sequence_id"].tolist()
    for k in range(0, len(good), 7):
        frames = read_landmark_file(root / good["path"].iloc[k])
        np.testing.assert_array_equal(cache.sequence(k), frames[:, cache.meta["point_indices"]])
