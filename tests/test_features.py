"""Tests for islr.features against the independent NumPy oracle (tests/feature_reference.py)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from feature_reference import reference_features
from islr.features import LandmarkFeatures, SelectLandmarks, extract_features
from islr.landmarks import (
    GROUP_SLICES,
    N_FEATURES,
    N_LANDMARKS,
    N_POINTS,
    PAD_VALUE,
    POINT_INDICES,
    REFERENCE_LANDMARK,
    REFERENCE_POINT,
)
from layer_test_case import run_layer_test

# Frames the reference recipe keeps (reference-recipe.md; data.max_len in conf/data/kaggle.yaml).
RECIPE_MAX_LEN = 384

TOL = {"rtol": 1e-5, "atol": 1e-5}


def _frames(rng: np.random.Generator, t: int, n: int = N_LANDMARKS) -> np.ndarray:
    """Random plausible landmark frames: a per-sequence offset plus jitter, z smaller."""
    base = rng.uniform(0.2, 0.8, size=(1, n, 3))
    x = base + rng.normal(0.0, 0.05, size=(t, n, 3))
    x[..., 2] *= 0.1
    return x.astype(np.float32)


def _case(name: str, rng: np.random.Generator) -> np.ndarray:
    """Raw [T, 543, 3] inputs for each edge case of the contract."""
    if name == "t1":
        return _frames(rng, 1)
    if name == "t2":
        return _frames(rng, 2)
    if name == "t3":
        return _frames(rng, 3)
    if name == "long":  # longer than max_len: stats over all 400 frames, output 384
        return _frames(rng, 400)
    x = _frames(rng, 40)
    if name == "no_reference":
        x[:, REFERENCE_LANDMARK, :] = np.nan
    elif name == "missing_hands":
        x[:, 468:489] = np.nan  # left hand never seen
        x[rng.random(40) < 0.5, 522:543] = np.nan  # right hand flickers
    elif name == "nan_frames":
        x[[0, 7, 8, 39]] = np.nan  # all-NaN frames, including first and last
    elif name == "all_nan":
        x[:] = np.nan
    elif name == "reference_partly_nan":
        x[:20, REFERENCE_LANDMARK, 0] = np.nan  # one axis only, half the time
    return x


CASES = [
    "t1",
    "t2",
    "t3",
    "long",
    "no_reference",
    "missing_hands",
    "nan_frames",
    "all_nan",
    "reference_partly_nan",
]


def _pad(seqs: list[np.ndarray], t: int) -> np.ndarray:
    out = np.full((len(seqs), t, *seqs[0].shape[1:]), PAD_VALUE, dtype=np.float32)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = s
    return out


def _np(x) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(x))


_JITTED: dict[object, object] = {}


def _run(layer, x: np.ndarray) -> np.ndarray:
    """Call a layer/model/method; under JAX through jax.jit (eager JAX compiles op by op: slow).

    The eager path is covered by the tests that call layers directly.
    """
    if keras.backend.backend() != "jax":
        return _np(layer(x))
    import jax

    if layer not in _JITTED:
        _JITTED[layer] = jax.jit(layer)
    return _np(_JITTED[layer](x))


# --- oracle sanity: the oracle must itself follow the recipe on hand-checkable data ---------
def test_oracle_hand_computed() -> None:
    # 2 frames; every point at (0.5, 0.5, 0) except the reference point moving in x.
    x = np.zeros((2, N_POINTS, 3))
    x[..., :2] = 0.5
    x[0, REFERENCE_POINT, 0] = 0.3
    x[1, REFERENCE_POINT, 0] = 0.7
    out = reference_features(x, max_len=None)
    # ref x = 0.5; only the reference point deviates (+-0.2) among 236 values -> std_x.
    std_x = np.sqrt(2 * 0.2**2 / (2 * N_POINTS))
    assert out.shape == (2, N_FEATURES)
    np.testing.assert_allclose(out[0, 2 * REFERENCE_POINT], -0.2 / std_x)
    np.testing.assert_allclose(out[1, 2 * REFERENCE_POINT], 0.2 / std_x)
    # y: std 0 -> 0/0 NaN -> 0.
    assert np.all(out[:, 1:236:2] == 0)
    # dx of frame 0 at the reference point; last frame's dx and all dx2 are zero.
    np.testing.assert_allclose(out[0, 236 + 2 * REFERENCE_POINT], 0.4 / std_x)
    assert np.all(out[1, 236:] == 0) and np.all(out[:, 472:] == 0)


# --- agreement with the oracle ---------------------------------------------------------
@pytest.mark.backend
@pytest.mark.parametrize("name", CASES)
def test_extract_features_matches_oracle(name: str) -> None:
    # A stable seed per case (hash(str) differs per process).
    rng = np.random.default_rng(100 + CASES.index(name))
    x = _case(name, rng)
    want = reference_features(x, max_len=384)
    got = extract_features(x, max_len=RECIPE_MAX_LEN)
    assert got.dtype == np.float32
    assert got.shape == (min(len(x), 384), N_FEATURES)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, want, **TOL)
    # Same answer from the already-selected 118 points.
    np.testing.assert_allclose(
        extract_features(x[:, list(POINT_INDICES)], max_len=RECIPE_MAX_LEN), got, rtol=0, atol=0
    )


@pytest.mark.backend
def test_all_nan_sequence_is_all_zero() -> None:
    x = np.full((6, N_LANDMARKS, 3), np.nan, dtype=np.float32)
    assert np.array_equal(
        extract_features(x, max_len=RECIPE_MAX_LEN), np.zeros((6, N_FEATURES), np.float32)
    )


@pytest.mark.backend
def test_never_seen_reference_uses_half() -> None:
    # Reference never seen: ref = 0.5 on every axis, so a point at 0.5 maps to 0 exactly.
    rng = np.random.default_rng(3)
    x = _frames(rng, 5)
    x[:, REFERENCE_LANDMARK] = np.nan
    x[:, POINT_INDICES[0], :2] = 0.5
    got = extract_features(x, max_len=RECIPE_MAX_LEN)
    assert np.all(got[:, 0:2] == 0)
    assert np.any(got[:, 2:236] != 0)


@pytest.mark.backend
def test_statistics_use_frames_beyond_max_len() -> None:
    # Frames after max_len are dropped from the output but still shape ref and std.
    rng = np.random.default_rng(4)
    x = _frames(rng, 30)
    x[10:] += 0.3
    got = extract_features(x, max_len=10)
    np.testing.assert_allclose(got, reference_features(x, max_len=10), **TOL)
    assert not np.allclose(got, extract_features(x[:10], max_len=10), atol=1e-3)
    # Truncation boundary: dx / dx2 of the last kept frames are zero, not reaching frame 10.
    assert np.all(got[9, 236:] == 0) and np.all(got[8, 472:] == 0)


@pytest.mark.backend
def test_max_len_none_keeps_every_frame() -> None:
    x = _case("long", np.random.default_rng(5))
    got = extract_features(x, max_len=None)
    assert got.shape == (400, N_FEATURES)
    np.testing.assert_allclose(got, reference_features(x, max_len=None), **TOL)


# --- batches, padding and masks ---------------------------------------------------------
@pytest.mark.backend
def test_batch_of_different_lengths_equals_single_sequences() -> None:
    rng = np.random.default_rng(6)
    lengths = [1, 2, 3, 9, 12, 5]
    seqs = [_frames(rng, n, N_POINTS) for n in lengths]
    seqs[4][:, GROUP_SLICES["lhand"]] = np.nan
    seqs[3][2] = np.nan
    seqs[5][:] = np.nan
    layer = LandmarkFeatures(max_len=10)
    batch = _pad(seqs, 12)
    out = _run(layer, batch)
    mask = _run(layer.compute_mask, batch)
    assert out.shape == (6, 10, N_FEATURES) and out.dtype == np.float32
    assert mask.dtype == bool
    for i, (seq, n) in enumerate(zip(seqs, lengths, strict=True)):
        kept = min(n, 10)
        single = _run(layer, seq[None])[0]
        np.testing.assert_allclose(out[i, :kept], single, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(out[i, :kept], reference_features(seq, 10), **TOL)
        assert np.all(out[i, kept:] == PAD_VALUE)
        np.testing.assert_array_equal(mask[i], np.arange(10) < kept)


@pytest.mark.backend
def test_padding_never_changes_a_sequence() -> None:
    rng = np.random.default_rng(7)
    seq = _frames(rng, 7, N_POINTS)
    layer = LandmarkFeatures(max_len=None)
    alone = _run(layer, seq[None])[0]
    padded = _run(layer, _pad([seq], 20))[0]
    # Summation order may differ with padding (backend-dependent): allow float32 rounding.
    np.testing.assert_allclose(padded[:7], alone, rtol=1e-6, atol=1e-6)
    assert np.all(padded[7:] == PAD_VALUE)


@pytest.mark.backend
def test_custom_pad_value() -> None:
    rng = np.random.default_rng(8)
    seq = _frames(rng, 4, N_POINTS)
    batch = np.full((1, 6, N_POINTS, 3), -7.0, np.float32)
    batch[0, :4] = seq
    out = _run(LandmarkFeatures(max_len=None, pad_value=-7.0), batch)
    np.testing.assert_allclose(out[0, :4], reference_features(seq, None), **TOL)
    assert np.all(out[0, 4:] == -7.0)


@pytest.mark.backend
def test_mask_reaches_downstream_layers() -> None:
    # A masked average must ignore padded frames; it can only if the mask flows.
    rng = np.random.default_rng(9)
    seqs = [_frames(rng, 3, N_POINTS), _frames(rng, 6, N_POINTS)]
    inp = keras.Input((None, N_POINTS, 3))
    out = keras.layers.GlobalAveragePooling1D()(LandmarkFeatures(max_len=None)(inp))
    model = keras.Model(inp, out)
    got = _run(model, _pad(seqs, 6))
    for i, s in enumerate(seqs):
        np.testing.assert_allclose(got[i], reference_features(s, None).mean(0), **TOL)


# --- compiled execution ---------------------------------------------------------------
@pytest.mark.backend
@pytest.mark.parametrize("jit", [False, True])
def test_compiled_model_dynamic_time(jit: bool) -> None:
    if not jit and keras.backend.backend() == "jax":
        pytest.skip("predict without jit is plain eager under JAX, covered elsewhere")
    rng = np.random.default_rng(10)
    inp = keras.Input((None, N_POINTS, 3))
    model = keras.Model(inp, LandmarkFeatures(max_len=16)(inp))
    model.compile(jit_compile=jit)
    for lengths, t in (([3, 20], 20), ([1, 2], 2)):
        seqs = [_frames(rng, n, N_POINTS) for n in lengths]
        got = _np(model.predict_on_batch(_pad(seqs, t)))
        assert got.shape == (2, min(t, 16), N_FEATURES)
        for i, s in enumerate(seqs):
            kept = min(len(s), 16)
            np.testing.assert_allclose(got[i, :kept], reference_features(s, 16), **TOL)
            assert np.all(got[i, kept:] == PAD_VALUE)


@pytest.mark.backend
def test_compiled_model_static_time() -> None:
    rng = np.random.default_rng(13)
    inp = keras.Input((20, N_POINTS, 3))
    model = keras.Model(inp, LandmarkFeatures(max_len=16)(inp))
    model.compile(jit_compile=True)
    seqs = [_frames(rng, n, N_POINTS) for n in (20, 2)]
    got = _np(model.predict_on_batch(_pad(seqs, 20)))
    assert got.shape == (2, 16, N_FEATURES)
    np.testing.assert_allclose(got[0], reference_features(seqs[0], 16), **TOL)
    np.testing.assert_allclose(got[1, :2], reference_features(seqs[1], 16), **TOL)
    assert np.all(got[1, 2:] == PAD_VALUE)


def test_static_time_gives_static_output_shape() -> None:
    assert LandmarkFeatures(max_len=8)(keras.Input((20, N_POINTS, 3))).shape == (None, 8, 708)
    assert LandmarkFeatures(max_len=8)(keras.Input((5, N_POINTS, 3))).shape == (None, 5, 708)
    assert LandmarkFeatures(max_len=None)(keras.Input((None, N_POINTS, 3))).shape == (
        None,
        None,
        708,
    )
    sel = SelectLandmarks()(keras.Input((7, N_LANDMARKS, 3)))
    assert sel.shape == (None, 7, N_POINTS, 3)


# --- the Keras layer contract (tests/layer_test_case.py) -----------------------------------
def _contract_cases() -> dict[str, tuple]:
    rng = np.random.default_rng(14)
    raw = _frames(rng, 6)  # one video [T, 543, 3], no batch axis
    batch = _pad([_frames(rng, 7, N_POINTS), _frames(rng, 4, N_POINTS)], 7)
    batch[1, 1, GROUP_SLICES["lhand"]] = np.nan
    return {
        "select_raw_frames": (SelectLandmarks, {}, raw, (6, N_POINTS, 3), {}),
        "select_batch": (
            SelectLandmarks,
            {},
            _pad([raw, raw[:2]], 6),
            (2, 6, N_POINTS, 3),
            {"dynamic_axes": (0, 1)},
        ),
        "features_truncating": (
            LandmarkFeatures,
            {"max_len": 5},
            batch,
            (2, 5, N_FEATURES),
            {"dynamic_axes": (0, 1)},
        ),
        "features_custom_pad": (
            LandmarkFeatures,
            {"max_len": None, "pad_value": -7.0},
            np.where(batch == PAD_VALUE, -7.0, batch).astype(np.float32),
            (2, 7, N_FEATURES),
            {},
        ),
    }


@pytest.mark.parametrize("name", sorted(_contract_cases()))
def test_layer_contract(name: str, tmp_path) -> None:
    """Config, build, symbolic / eager calls, precision and .keras round trip; both layers
    compute in float32 under a global mixed policy (raw coordinates, statistics) unless a
    dtype is requested for them."""
    cls, kwargs, data, out_shape, options = _contract_cases()[name]
    run_layer_test(
        cls, kwargs, data, out_shape, tmp_path=tmp_path, float32_by_default=True, **options
    )


@pytest.mark.backend
def test_float32_features_under_a_global_mixed_policy_equal_float32_ones() -> None:
    rng = np.random.default_rng(11)
    raw = _frames(rng, 12)[None]
    want = _np(LandmarkFeatures(max_len=RECIPE_MAX_LEN)(SelectLandmarks()(raw)))
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        got = LandmarkFeatures(max_len=RECIPE_MAX_LEN)(SelectLandmarks()(raw))
    finally:
        keras.config.set_dtype_policy(previous)
    np.testing.assert_array_equal(_np(got), want)


# --- SelectLandmarks ------------------------------------------------------------------
@pytest.mark.backend
def test_select_landmarks_picks_recipe_points_and_passes_mask() -> None:
    x = np.arange(2 * 3 * N_LANDMARKS * 3, dtype=np.float32).reshape(2, 3, N_LANDMARKS, 3)
    layer = SelectLandmarks()
    got = _np(layer(x))
    assert got.shape == (2, 3, N_POINTS, 3)
    for j, raw in enumerate(POINT_INDICES):
        np.testing.assert_array_equal(got[:, :, j], x[:, :, raw])
    mask = np.array([[True, True, False], [True, False, False]])
    assert layer.compute_mask(x, mask) is mask
    assert layer.supports_masking


def test_select_landmarks_rejects_wrong_landmark_count() -> None:
    with pytest.raises(ValueError, match="543"):
        SelectLandmarks()(np.zeros((1, 2, 118, 3), np.float32))


# --- input validation -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("frames", "pattern"),
    [
        (np.zeros((0, N_LANDMARKS, 3), np.float32), "zero frames"),
        (np.zeros((4, 500, 3), np.float32), r"\[T, 543, 3\].*\(4, 500, 3\)"),
        (np.zeros((4, N_LANDMARKS, 2), np.float32), "got \\(4, 543, 2\\)"),
        (np.zeros((N_LANDMARKS, 3), np.float32), "got \\(543, 3\\)"),
        (np.array([["a"] * 3] * N_LANDMARKS)[None], "numeric"),
    ],
)
def test_extract_features_rejects_bad_frames(frames: np.ndarray, pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        extract_features(frames, max_len=RECIPE_MAX_LEN)


def test_layer_rejects_bad_arguments_and_shapes() -> None:
    with pytest.raises(ValueError, match="max_len"):
        LandmarkFeatures(max_len=0)
    with pytest.raises(ValueError, match="max_len"):
        LandmarkFeatures(max_len=2.5)
    with pytest.raises(ValueError, match=r"\[batch, time, 118, 3\]"):
        LandmarkFeatures(max_len=RECIPE_MAX_LEN)(np.zeros((2, 5, 543, 3), np.float32))
    with pytest.raises(ValueError, match="max_len"):
        extract_features(np.zeros((3, N_POINTS, 3), np.float32), max_len=0)
