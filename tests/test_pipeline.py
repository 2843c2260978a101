"""Training input pipeline: bucketing, padding, NaN-frame dropping, determinism, eval coverage."""

from __future__ import annotations

import logging

import keras
import numpy as np
import pytest

from augment_oracle import settings_of
from islr.config import group_config
from islr.landmarks import N_POINTS, PAD_VALUE
from islr.train.batch_plan import bucket_boundaries, host_window
from islr.train.gather import count_valid_frames, pad_batch
from islr.train.pipeline import SequenceBatches
from islr.train.sharding import Shard

pytestmark = pytest.mark.backend


def batches(source, indices, **kw) -> SequenceBatches:
    """``SequenceBatches`` with the shipped ``data.max_len`` / ``data.buckets`` unless given."""
    data = group_config("data", "kaggle")
    kw.setdefault("max_len", int(data.max_len))
    kw.setdefault("boundaries", tuple(data.buckets))
    return SequenceBatches(source, indices, **kw)


class ArraySource:
    """A tiny in-memory landmark source: sequence i has every value equal to i + frame/1000."""

    def __init__(self, lengths: list[int], nan_frames: dict[int, list[int]] | None = None):
        self.seqs = []
        for i, t in enumerate(lengths):
            frames = i + np.arange(t, dtype=np.float32)[:, None, None] / 1000.0
            seq = np.broadcast_to(frames, (t, N_POINTS, 3)).astype(np.float32).copy()
            for f in (nan_frames or {}).get(i, []):
                seq[f] = np.nan
            self.seqs.append(seq)
        self.labels = np.arange(len(lengths), dtype=np.int32)

    def __len__(self) -> int:
        return len(self.seqs)

    def sequence(self, i: int) -> np.ndarray:
        return self.seqs[i]


def _ids(x: np.ndarray) -> np.ndarray:
    """Sample ids encoded in the first frame of each row (see ArraySource)."""
    return np.floor(x[:, 0, 0, 0] + 1e-4).astype(int)


def test_bucket_boundaries_capped_sorted_and_end_at_max_len():
    assert bucket_boundaries([64, 16, 32, 16, 500], 100) == (16, 32, 64, 100)
    assert bucket_boundaries([16, 32], 24) == (16, 24)
    assert bucket_boundaries([16, 32], 24, bucketing=False) == (24,)
    with pytest.raises(ValueError, match="max_len"):
        bucket_boundaries([16], 0)
    with pytest.raises(ValueError, match="buckets"):
        bucket_boundaries([0, 16], 32)


def test_train_batches_have_fixed_size_bucket_shapes_and_end_padding():
    rng = np.random.default_rng(0)
    lengths = [int(v) for v in rng.integers(1, 70, size=53)]
    src = ArraySource(lengths)
    ds = batches(
        src, range(53), batch_size=8, max_len=48, training=True, boundaries=[8, 16, 32, 64]
    )
    assert len(ds) == 53 // 8
    seen: list[int] = []
    for k in range(len(ds)):
        x, y = ds[k]
        assert x.shape[0] == 8 and x.shape[1:] == (x.shape[1], N_POINTS, 3)
        assert x.shape[1] in (8, 16, 32, 48)
        ids = _ids(x)
        np.testing.assert_array_equal(ids, y)
        longest = max(min(lengths[i], 48) for i in ids)
        # the smallest boundary that holds the longest sample
        assert x.shape[1] == min(b for b in (8, 16, 32, 48) if b >= longest)
        for row, i in zip(x, ids, strict=True):
            n = min(lengths[i], 48)
            np.testing.assert_array_equal(row[:n], src.seqs[i][:n])  # first max_len frames
            assert (row[n:] == PAD_VALUE).all()
        seen += ids.tolist()
    assert len(seen) == len(set(seen)) == 48  # remainder (5) dropped, no duplicates


def test_bucketing_off_pads_everything_to_max_len():
    src = ArraySource([3, 5, 40, 7])
    ds = batches(src, range(4), batch_size=2, max_len=32, training=True, bucketing=False)
    assert {ds[k][0].shape[1] for k in range(len(ds))} == {32}


def test_all_nan_frames_dropped_and_empty_sequences_skipped_with_warning(caplog):
    src = ArraySource([6, 4, 5], nan_frames={0: [0, 3, 5], 1: [0, 1, 2, 3]})
    assert count_valid_frames(src).tolist() == [3, 0, 5]
    with caplog.at_level(logging.WARNING):
        ds = batches(src, range(3), batch_size=4, max_len=16, training=False)
    assert ds.skipped.tolist() == [1]
    assert "1 of 3 sequences" in caplog.text
    x, y, w = ds[0]
    rows = {int(i): r for i, r in zip(y[w > 0], x[w > 0], strict=True)}
    assert sorted(rows) == [0, 2]
    np.testing.assert_array_equal(rows[0][:3], src.seqs[0][[1, 2, 4]])
    assert (rows[0][3:] == PAD_VALUE).all()
    with pytest.raises(ValueError, match="no usable sequence"):
        batches(src, [1], batch_size=2, max_len=16)


def test_eval_visits_every_sample_exactly_once_with_constant_batch_size():
    rng = np.random.default_rng(1)
    lengths = [int(v) for v in rng.integers(1, 60, size=37)]
    src = ArraySource(lengths)
    ds = batches(src, range(37), batch_size=8, max_len=64, boundaries=[16, 32])
    assert len(ds) == 5
    real: list[int] = []
    for x, y, w in ds.iter_numpy():
        assert x.shape[0] == len(y) == len(w) == 8
        assert set(np.unique(w)) <= {0.0, 1.0}
        np.testing.assert_array_equal(_ids(x), y)
        real += y[w > 0].tolist()
    assert sorted(real) == list(range(37))
    assert sum((ds[k][2] == 0).sum() for k in range(len(ds))) == 5 * 8 - 37


def test_shuffle_depends_only_on_seed_and_epoch():
    src = ArraySource([int(v) for v in np.random.default_rng(2).integers(2, 30, size=40)])

    def make(**kw):
        return batches(src, range(40), batch_size=4, max_len=32, training=True, **kw)

    def epoch_batches(ds):
        return [ds[k] for k in range(len(ds))]

    a = make(seed=3)
    first = epoch_batches(a)
    a.on_epoch_end()
    second = epoch_batches(a)
    resumed = epoch_batches(make(seed=3, initial_epoch=1))
    for (xa, ya), (xb, yb) in zip(second, resumed, strict=True):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    order = lambda batches: np.concatenate([y for _, y in batches]).tolist()  # noqa: E731
    assert order(first) != order(second)
    assert order(epoch_batches(make(seed=4))) != order(first)
    assert order(epoch_batches(make(seed=3))) == order(first)


def test_max_batches_and_bad_arguments():
    src = ArraySource([5] * 20)
    ds = batches(src, range(20), batch_size=2, max_len=8, training=True, max_batches=3)
    assert len(ds) == 3
    with pytest.raises(IndexError):
        ds[3]
    with pytest.raises(ValueError, match="batch_size"):
        batches(src, range(20), batch_size=0)
    with pytest.raises(ValueError, match="max_batches"):
        batches(src, range(20), batch_size=2, max_batches=0)
    with pytest.raises(TypeError, match="AugmentSettings"):  # the numpy callables are gone
        batches(src, range(20), batch_size=2, augmenter=lambda x, rng: x)
    with pytest.raises(ValueError, match="shards"):
        batches(src, range(20), batch_size=3, num_shards=2)
    with pytest.raises(ValueError, match="shard_index"):
        Shard(2, 2)
    assert Shard(4, 1).rows(8) == slice(2, 4)


def test_keras_sees_a_dynamic_time_axis_and_direct_indexing_the_real_lengths():
    """Keras' TF adapter fixes its tf.data signature from batches 0 and 1: when it reads them
    they get two lengths (the time axis stays dynamic); indexed directly, they are as planned."""
    src = ArraySource([5] * 16)
    ds = batches(src, range(16), batch_size=4, max_len=32, training=True)
    direct = [ds[k][0].shape[1] for k in range(len(ds))]
    assert direct == [16] * 4  # every batch in the smallest bucket
    if keras.backend.backend() != "tensorflow":
        return
    from keras.src.trainers.data_adapters.py_dataset_adapter import PyDatasetAdapter

    spec = PyDatasetAdapter(ds).get_tf_dataset().element_spec
    assert spec[0].shape.as_list() == [None, None, N_POINTS, 3]
    assert [ds[k][0].shape[1] for k in range(len(ds))] == direct
    # One training batch can give one shape only: it is always padded to the largest.
    one = batches(src, range(4), batch_size=4, max_len=32, training=True)
    assert one[0][0].shape[1] == 32


def test_works_on_the_real_cache(tiny_cache):
    lengths = count_valid_frames(tiny_cache)
    assert len(lengths) == len(tiny_cache)
    assert (lengths <= tiny_cache.lengths).all()
    ds = batches(tiny_cache, np.arange(len(tiny_cache)), batch_size=16, max_len=64)
    labels = np.concatenate([y[w > 0] for _, y, w in ds.iter_numpy()])
    np.testing.assert_array_equal(np.sort(labels), np.sort(tiny_cache.labels[ds.indices]))


class FlatSource(ArraySource):
    """ArraySource with the cache's flat ``points`` / ``offsets`` arrays (the gather fast path)."""

    def __init__(self, lengths: list[int], nan_frames: dict[int, list[int]] | None = None):
        super().__init__(lengths, nan_frames)
        self.points = np.concatenate(self.seqs)
        self.offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)


def test_host_window_extends_only_for_resampling():
    assert host_window(32, None) == 32
    assert host_window(32, settings_of(max_len=32)) == 64  # 32 / 0.5
    assert host_window(30, settings_of(resample_scale=(0.8, 1.2))) == 38
    assert host_window(32, settings_of(resample_p=0.0)) == 32
    assert host_window(32, settings_of(enabled=False)) == 32


@pytest.mark.parametrize("training", [False, True])
def test_cache_arrays_and_sequences_give_the_same_padded_batches(training):
    """A source with the cache's flat arrays and one with sequences only give the same batches:
    each sample's frames with a detected point (at most the window), padded at the end."""
    rng = np.random.default_rng(5)
    lengths = [int(v) for v in rng.integers(1, 90, size=45)]
    nan_frames = {i: list(range(0, lengths[i], 4)) for i in range(0, 45, 3)}
    nan_frames[7] = list(range(lengths[7]))  # nothing detected: skipped
    aug = settings_of(max_len=40) if training else None
    kw = dict(batch_size=8, max_len=40, training=training, augmenter=aug, boundaries=[16, 32])
    seqs = ArraySource(lengths, nan_frames)
    flat = batches(FlatSource(lengths, nan_frames), range(45), **kw)
    copied = batches(seqs, range(45), **kw)
    assert len(flat) == len(copied) > 1
    window = 80 if training else 40  # 40 / resample_scale[0]
    for k in range(len(flat)):
        batch = flat[k]
        for a, b in zip(batch, copied[k], strict=True):
            np.testing.assert_array_equal(a, b)
        kept = [s[~np.isnan(s).all(axis=(1, 2))][:window] for s in (seqs.seqs[i] for i in batch[1])]
        np.testing.assert_array_equal(batch[0], pad_batch(kept, batch[0].shape[1]))


def test_training_batches_keep_the_window_of_the_augmentation():
    lengths = [10, 70, 100, 20]
    src = FlatSource(lengths)
    aug = settings_of(max_len=32)  # resample 0.5-1.5: the host keeps 64 frames
    ds = batches(src, range(4), batch_size=4, max_len=32, training=True, augmenter=aug)
    assert ds.max_len == 64 and tuple(ds.boundaries) == (16, 32, 64)
    x, y = ds[0]
    assert x.shape[1] == 64
    for row, i in zip(x, y, strict=True):
        n = min(lengths[i], 64)
        np.testing.assert_array_equal(row[:n], src.seqs[i][:n])  # raw frames: not augmented
        assert (row[n:] == PAD_VALUE).all()
    ev = batches(src, range(4), batch_size=4, max_len=32, augmenter=aug)
    assert ev.max_len == 32 and ev[0][0].shape[1] == 32
