"""Defining properties of the augmentations' numpy oracle (``augment_oracle``: what
``tests/test_augment_batched.py`` checks the training layer against) and of the settings."""

from __future__ import annotations

import numpy as np
import pytest
from hydra.utils import instantiate

from augment_oracle import (
    augment,
    blank_box,
    horizontal_flip,
    random_affine,
    random_crop,
    recipe,
    settings_of,
    spatial_cutout,
    temporal_mask,
    temporal_resample,
)
from islr import landmarks
from islr.augment import SETTINGS, AugmentSettings
from islr.config import group_config

N = landmarks.N_POINTS
LH = landmarks.GROUP_SLICES["lhand"]
RH = landmarks.GROUP_SLICES["rhand"]


def make_seq(n_frames: int, seed: int = 0, nan_hand: bool = True) -> np.ndarray:
    """Random points in [0.1, 0.9] with the left hand undetected in every third frame."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.1, 0.9, size=(n_frames, N, 3)).astype(np.float32)
    if nan_hand:
        x[::3, LH] = np.nan
    return x


def rng_of(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


RECIPE_7 = settings_of(max_len=7, resample_p=1, affine_p=1, cutout_p=1)
RANDOM_OPS = {
    "resample": lambda x, r: temporal_resample(x, r),
    "crop": lambda x, r: random_crop(x, r, max_len=7),
    "affine": lambda x, r: random_affine(x, r),
    "temporal_mask": lambda x, r: temporal_mask(x, r),
    "cutout": lambda x, r: spatial_cutout(x, r),
    "augmenter": lambda x, r: augment(x, r, RECIPE_7),
}
ALL_OPS = {**RANDOM_OPS, "flip": lambda x, r: horizontal_flip(x)}


# --- shared properties --------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(ALL_OPS))
def test_input_not_mutated_and_float32_out(name: str) -> None:
    x = make_seq(12)
    before = x.copy()
    out = ALL_OPS[name](x, rng_of(3))
    np.testing.assert_array_equal(x, before)
    assert out.dtype == np.float32
    assert not np.shares_memory(out, x)


@pytest.mark.parametrize("name", sorted(RANDOM_OPS))
def test_seeded_determinism(name: str) -> None:
    x = make_seq(20)
    a = RANDOM_OPS[name](x, rng_of(11))
    b = RANDOM_OPS[name](x, rng_of(11))
    np.testing.assert_array_equal(a, b)
    outs = [RANDOM_OPS[name](x, rng_of(s)) for s in range(8)]
    assert any(o.shape != a.shape or not np.array_equal(o, a, equal_nan=True) for o in outs)


@pytest.mark.parametrize("name", sorted(ALL_OPS))
def test_single_frame_works(name: str) -> None:
    x = make_seq(1, nan_hand=False)
    for seed in range(10):
        out = ALL_OPS[name](x, rng_of(seed))
        assert out.ndim == 3 and out.shape[0] >= 1 and out.shape[1:] == (N, 3)


@pytest.mark.parametrize(
    "bad", [np.zeros((5, N)), np.zeros((0, N, 3)), np.zeros((4, N, 1))], ids=str
)
def test_bad_sequence_rejected(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match="x:"):
        temporal_resample(bad, rng_of(0))


# --- flip ---------------------------------------------------------------------------------------
def test_flip_twice_is_identity() -> None:
    x = make_seq(9)
    np.testing.assert_allclose(horizontal_flip(horizontal_flip(x)), x, atol=1e-6)


def test_flip_mirrors_x_and_swaps_left_right_points() -> None:
    x = make_seq(6)
    out = horizontal_flip(x)
    # Hands trade places: the new right hand is the old left hand, mirrored in x.
    np.testing.assert_allclose(out[:, RH, 0], 1.0 - x[:, LH, 0], atol=1e-6)
    np.testing.assert_array_equal(out[:, RH, 1:], x[:, LH, 1:])
    np.testing.assert_allclose(out[:, LH, 0], 1.0 - x[:, RH, 0], atol=1e-6)
    pos = landmarks.POINT_INDICES.index
    # Mouth corners 61 <-> 291, nose sides 98 <-> 327, eye corners 33 <-> 263; lip centre 0 stays.
    for a, b in ((61, 291), (98, 327), (33, 263), (0, 0), (17, 17)):
        np.testing.assert_allclose(out[:, pos(a), 0], 1.0 - x[:, pos(b), 0], atol=1e-6)
        np.testing.assert_array_equal(out[:, pos(a), 1], x[:, pos(b), 1])


def test_flip_needs_118_points() -> None:
    with pytest.raises(ValueError, match="118"):
        horizontal_flip(np.zeros((3, 10, 3), np.float32))


# --- resample -----------------------------------------------------------------------------------
def test_resample_keeps_first_and_last_and_length_in_range() -> None:
    x = make_seq(40)
    x[1] = np.nan  # the end frames' neighbours are undetected: the end frames must survive
    x[-2] = np.nan
    lengths = set()
    for seed in range(30):
        out = temporal_resample(x, rng_of(seed), (0.5, 1.5))
        assert 20 <= out.shape[0] <= 60
        lengths.add(out.shape[0])
        np.testing.assert_array_equal(out[0], x[0])
        np.testing.assert_array_equal(out[-1], x[-1])
    assert len(lengths) > 5


def test_resample_interpolates_linearly_and_propagates_nan() -> None:
    x = np.zeros((2, N, 3), np.float32)
    x[1] = 1.0
    x[1, 5] = np.nan
    out = temporal_resample(x, rng_of(0), (1.5, 1.5))  # 2 frames -> 3
    assert out.shape == (3, N, 3)
    np.testing.assert_allclose(out[1, :5], 0.5)
    assert np.isnan(out[1, 5]).all()
    np.testing.assert_array_equal(out[0], 0.0)


def test_resample_exact_length_for_fixed_scale() -> None:
    assert temporal_resample(make_seq(10), rng_of(0), 2.0).shape[0] == 20
    assert temporal_resample(make_seq(3), rng_of(0), 0.1).shape[0] == 1


# --- crop -----------------------------------------------------------------------------------------
def test_crop_returns_contiguous_window_of_max_len() -> None:
    x = np.broadcast_to(np.arange(50, dtype=np.float32).reshape(50, 1, 1), (50, N, 3))
    starts = set()
    for seed in range(20):
        out = random_crop(x, rng_of(seed), max_len=20)
        assert out.shape == (20, N, 3)
        start = int(out[0, 0, 0])
        np.testing.assert_array_equal(out, x[start : start + 20])
        starts.add(start)
    assert len(starts) > 3
    np.testing.assert_array_equal(random_crop(x, rng_of(0), max_len=50), x)
    with pytest.raises(ValueError, match="max_len"):
        random_crop(x, rng_of(0), max_len=0)


# --- affine ---------------------------------------------------------------------------------------
def test_affine_identity_parameters_are_identity() -> None:
    x = make_seq(8)
    out = random_affine(x, rng_of(0), scale=(1, 1), shear=(0, 0), rotate_deg=(0, 0), shift=(0, 0))
    np.testing.assert_allclose(out, x, atol=1e-6)
    assert np.array_equal(np.isnan(out), np.isnan(x))


def test_affine_shift_moves_centroid_and_keeps_z() -> None:
    x = make_seq(8, nan_hand=False)
    out = random_affine(x, rng_of(0), scale=1, shear=0, rotate_deg=0, shift=0.07)
    np.testing.assert_allclose(out[..., :2].mean(axis=1) - x[..., :2].mean(axis=1), 0.07, atol=1e-5)
    np.testing.assert_array_equal(out[..., 2], x[..., 2])


def test_affine_rotation_and_scale_about_centre() -> None:
    x = np.full((1, N, 3), 0.5, np.float32)
    x[0, 0, :2] = (0.7, 0.5)  # 0.2 right of the centre; with y down, +90 degrees turns it down
    rot = random_affine(x, rng_of(0), scale=1, shear=0, rotate_deg=90, shift=0)
    np.testing.assert_allclose(rot[0, 0, :2], (0.5, 0.7), atol=1e-6)
    np.testing.assert_allclose(rot[0, 1, :2], (0.5, 0.5), atol=1e-6)  # the centre is fixed
    big = random_affine(x, rng_of(0), scale=2, shear=0, rotate_deg=0, shift=0)
    np.testing.assert_allclose(big[0, 0, :2], (0.9, 0.5), atol=1e-6)


def test_affine_keeps_nan_and_rejects_bad_range() -> None:
    x = make_seq(6)
    out = random_affine(x, rng_of(1))
    assert np.array_equal(np.isnan(out), np.isnan(x))
    with pytest.raises(ValueError, match="scale"):
        random_affine(x, rng_of(1), scale=(1.2, 0.8))


# --- masks ----------------------------------------------------------------------------------------
def test_temporal_mask_blanks_one_run_of_the_claimed_size() -> None:
    x = make_seq(50, nan_hand=False)
    out = temporal_mask(x, rng_of(4), size=(0.3, 0.3))
    blank = np.isnan(out).all(axis=(1, 2))
    assert blank.sum() == 15
    idx = np.flatnonzero(blank)
    assert idx[-1] - idx[0] == 14  # consecutive
    np.testing.assert_array_equal(out[~blank], x[~blank])
    for seed in range(20):
        n = np.isnan(temporal_mask(x, rng_of(seed))).all(axis=(1, 2)).sum()
        assert 10 <= n <= 20


def test_temporal_mask_custom_value() -> None:
    x = make_seq(10, nan_hand=False)
    out = temporal_mask(x, rng_of(0), size=0.5, value=0.0)
    assert (out == 0.0).all(axis=(1, 2)).sum() == 5


def grid_sequence(n_frames: int = 3) -> np.ndarray:
    """Points on a regular grid: x, y in {0.05, 0.15, ..., 0.95} (first 100 of 118 points)."""
    x = np.full((n_frames, N, 3), np.nan, np.float32)
    gx, gy = np.meshgrid(np.arange(10) * 0.1 + 0.05, np.arange(10) * 0.1 + 0.05)
    x[:, :100, 0] = gx.ravel()
    x[:, :100, 1] = gy.ravel()
    x[:, :100, 2] = 0.0
    return x


def test_blank_box_blanks_exactly_the_points_inside() -> None:
    x = grid_sequence()
    out = blank_box(x, x0=0.2, y0=0.3, side=0.25)
    newly = np.isnan(out).all(axis=2) & ~np.isnan(x).all(axis=2)
    # x in {0.25, 0.35} and y in {0.35, 0.45}: 4 points in every frame.
    assert newly.sum(axis=1).tolist() == [4, 4, 4]
    np.testing.assert_allclose(np.sort(x[0, newly[0], 0]), [0.25, 0.25, 0.35, 0.35], atol=1e-6)


def test_spatial_cutout_blanks_a_square_box_in_every_frame() -> None:
    x = grid_sequence()
    counts = []
    for seed in range(20):
        out = spatial_cutout(x, rng_of(seed), size=(0.2, 0.4))
        newly = np.isnan(out).all(axis=2) & ~np.isnan(x).all(axis=2)
        assert (newly == newly[0]).all()  # the same box in every frame
        pts = x[0, newly[0], :2]
        counts.append(len(pts))
        if len(pts) == 0:
            continue
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        assert (hi - lo <= 0.4 + 1e-6).all()
        # Every kept point lies outside the blanked points' bounding box (it is a box).
        kept = x[0, ~newly[0] & ~np.isnan(x[0]).all(axis=1), :2]
        inside = ((kept >= lo - 1e-6) & (kept <= hi + 1e-6)).all(axis=1)
        assert not inside.any()
    assert max(counts) >= 4


# --- the pipeline ---------------------------------------------------------------------------------
ZERO = dict(resample_p=0, flip_p=0, affine_p=0, temporal_mask_p=0, cutout_p=0)


def test_pipeline_disabled_and_all_off_are_identity() -> None:
    x = make_seq(30)
    off = augment(x, rng_of(0), settings_of(enabled=False, max_len=None))
    np.testing.assert_array_equal(off, x)
    assert off is not x
    np.testing.assert_array_equal(augment(x, rng_of(0), settings_of(max_len=None, **ZERO)), x)
    only_flip = augment(x, rng_of(0), settings_of(max_len=None, **{**ZERO, "flip_p": 1}))
    np.testing.assert_array_equal(only_flip, horizontal_flip(x))


def test_pipeline_applies_each_step_with_its_probability() -> None:
    x = make_seq(20, nan_hand=False)
    flip = settings_of(max_len=None, **{**ZERO, "flip_p": 0.3})
    mask = settings_of(max_len=None, **{**ZERO, "temporal_mask_p": 0.7})
    flipped = horizontal_flip(x)
    n_flip = sum(np.array_equal(augment(x, rng_of(s), flip), flipped) for s in range(300))
    n_mask = sum(np.isnan(augment(x, rng_of(s), mask)).any() for s in range(300))
    assert 60 <= n_flip <= 120  # expected 90
    assert 180 <= n_mask <= 240  # expected 210


def test_pipeline_always_crops_and_keeps_at_least_one_frame() -> None:
    s16 = settings_of(max_len=16)
    for seed in range(30):
        out = augment(make_seq(40, seed), rng_of(seed), s16)
        assert 1 <= out.shape[0] <= 16 and out.shape[1:] == (N, 3)
    for seed in range(30):
        assert augment(make_seq(1, seed, nan_hand=False), rng_of(seed), s16).shape[0] >= 1


# --- the settings -------------------------------------------------------------------------------
def test_settings_config_roundtrip_and_validation() -> None:
    settings = settings_of(max_len=64, flip_p=0.25, cutout_size=(0.1, 0.3), mask_value=0.0)
    cfg = settings.get_config()
    assert AugmentSettings(**cfg).get_config() == cfg
    assert list(cfg) == list(SETTINGS)
    assert settings.replace(flip_p=1.0).flip_p == 1.0 and settings.flip_p == 0.25
    with pytest.raises(ValueError, match="flip_p"):
        settings_of(flip_p=1.5)
    with pytest.raises(ValueError, match="max_len"):
        settings_of(max_len=0)
    with pytest.raises(ValueError, match="cutout_size"):
        settings_of(cutout_size=(0.5, 1.5))
    with pytest.raises(ValueError, match="resample_scale"):
        settings_of(resample_scale=(0.0, 1.0))
    with pytest.raises(ValueError, match="affine_scale"):
        settings_of(affine_scale=(1.2, 0.8))
    with pytest.raises(TypeError, match="flip_p"):  # no defaults: the YAML states the values
        AugmentSettings(**{k: v for k, v in recipe().items() if k != "flip_p"})


def compose(name: str, max_len: int = 32) -> AugmentSettings:
    return instantiate(group_config("augment", name, [f"data.max_len={max_len}"]))


def test_yaml_presets_instantiate() -> None:
    default = compose("default")
    assert isinstance(default, AugmentSettings) and default.max_len == 32
    # Recipe section 4 values.
    assert (default.resample_p, default.flip_p, default.affine_p) == (0.8, 0.5, 0.75)
    assert (default.temporal_mask_p, default.cutout_p) == (0.5, 0.5)
    assert default.resample_scale == (0.5, 1.5) and default.affine_rotate_deg == (-30, 30)
    assert default.affine_shear == (-0.15, 0.15) and default.affine_shift == (-0.1, 0.1)
    assert compose("none").enabled is False
    light = compose("light")
    assert light.enabled and light.affine_rotate_deg[1] < default.affine_rotate_deg[1]
    out = augment(make_seq(80), rng_of(0), light)
    assert 1 <= out.shape[0] <= 32
