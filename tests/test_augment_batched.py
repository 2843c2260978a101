"""BatchAugmentation: the recipe's augmentations as one Keras layer on padded batches.

Three kinds of checks against an independent implementation, the numpy oracle
(``augment_oracle``): (1) properties, as for the oracle's ops (flip twice is the identity, NaN
stays NaN, blanked frames are one run of the right length, cutout points lie in one box,
padding stays padding, identity in inference); (2) with fixed parameters (ranges of width 0,
p = 1) the layer gives exactly what the oracle's ops give, sample by sample; (3) with the
recipe's random parameters, the distribution of outcomes over a few thousand samples matches
the oracle's pipeline (decision rates within 0.05, two-sample Kolmogorov-Smirnov distance of
continuous outcomes below 0.07: about 4 standard errors at 3,000 samples per side). The
settings come from ``conf/augment/default.yaml`` (``recipe``), changed where a test says so.
"""

from __future__ import annotations

import h5py
import keras
import numpy as np
import pytest
from omegaconf import OmegaConf

from augment_oracle import (
    augment,
    horizontal_flip,
    random_affine,
    recipe,
    settings_of,
    temporal_resample,
)
from islr import landmarks
from islr.augment import SETTINGS, AugmentSettings
from islr.augment.batched import BatchAugmentation
from islr.config import group_config
from islr.landmarks import N_POINTS, PAD_VALUE
from islr.train.rng_state import restore_rng_states, save_rng_states
from layer_test_case import run_layer_test

pytestmark = pytest.mark.backend

LH = landmarks.GROUP_SLICES["lhand"]
OFF = dict(resample_p=0.0, flip_p=0.0, affine_p=0.0, temporal_mask_p=0.0, cutout_p=0.0)


def make_layer(seed: int | None = None, **changes) -> BatchAugmentation:
    """The layer with the recipe's settings (``conf/augment/default.yaml``) and ``changes``."""
    return BatchAugmentation(**recipe(**changes), seed=seed)


def make_batch(
    lengths: list[int] | np.ndarray, pad_to: int | None = None, seed: int = 0
) -> np.ndarray:
    """Padded ``[B, L, 118, 3]``: points in [0.1, 0.9], left hand NaN in every third frame."""
    rng = np.random.default_rng(seed)
    length = int(pad_to or max(lengths))
    x = np.full((len(lengths), length, N_POINTS, 3), PAD_VALUE, dtype=np.float32)
    for b, t in enumerate(lengths):
        seq = rng.uniform(0.1, 0.9, size=(t, N_POINTS, 3)).astype(np.float32)
        seq[::3, LH] = np.nan
        x[b, :t] = seq
    return x


def run(layer: BatchAugmentation, x: np.ndarray, training: bool = True) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(layer(x, training=training)))


def lengths_of(out: np.ndarray) -> np.ndarray:
    """Real frames per sample (padding frames hold PAD_VALUE in every value)."""
    real = (out != PAD_VALUE).any(axis=(2, 3))
    return real.sum(axis=1)


def check_padding(out: np.ndarray) -> np.ndarray:
    """Every sample: its real frames first, then only padding; returns the lengths."""
    n = lengths_of(out)
    for b, t in enumerate(n):
        assert (out[b, t:] == PAD_VALUE).all()
        assert not (out[b, :t] == PAD_VALUE).all(axis=(1, 2)).any()
    return n


# --- (1) properties -------------------------------------------------------------------------
def test_identity_in_inference() -> None:
    x = make_batch([7, 3, 12])
    out = run(make_layer(max_len=4, seed=0), x, training=False)
    np.testing.assert_array_equal(out, x)


def test_disabled_only_keeps_max_len_frames() -> None:
    x = make_batch([7, 3, 12])
    out = run(make_layer(max_len=5, enabled=False, seed=0), x)
    np.testing.assert_array_equal(out, x[:, :5])


def test_flip_twice_is_identity_and_matches_numpy() -> None:
    lengths = [9, 4, 1]
    x = make_batch(lengths)
    layer = make_layer(max_len=None, seed=0, **{**OFF, "flip_p": 1.0})
    once = run(layer, x)
    for b, t in enumerate(lengths):
        np.testing.assert_array_equal(once[b, :t], horizontal_flip(x[b, :t]))
    np.testing.assert_allclose(run(layer, once), x, rtol=0, atol=1e-7)  # 1 - (1 - x)
    check_padding(once)


@pytest.mark.parametrize("scale", [0.5, 0.75, 1.0, 1.25, 1.5])
def test_resample_with_fixed_scale_matches_numpy(scale: float) -> None:
    lengths = [1, 2, 5, 8, 13, 20]
    x = make_batch(lengths)
    layer = make_layer(
        max_len=None, seed=0, **{**OFF, "resample_p": 1.0, "resample_scale": (scale, scale)}
    )
    out = run(layer, x)
    assert out.shape[1] == int(np.ceil(scale * 20))  # the largest possible length
    n = check_padding(out)
    for b, t in enumerate(lengths):
        ref = temporal_resample(x[b, :t], np.random.default_rng(0), (scale, scale))
        assert n[b] == len(ref)
        np.testing.assert_array_equal(np.isnan(out[b, : n[b]]), np.isnan(ref))
        np.testing.assert_allclose(out[b, : n[b]], ref, rtol=0, atol=1e-6)


def test_output_length_bound() -> None:
    layer = make_layer(max_len=30)
    assert layer.output_length(16) == 24 and layer.output_length(64) == 30
    assert make_layer(max_len=30, resample_p=0.0).output_length(16) == 16
    assert make_layer(resample_scale=(0.5, 0.8)).output_length(10) == 10
    assert make_layer(resample_p=1.0, resample_scale=(0.5, 0.8)).output_length(10) == 8
    out = run(make_layer(max_len=30, seed=1), make_batch([16, 3]))
    assert out.shape == (2, 24, N_POINTS, 3)


def test_crop_keeps_a_random_window_of_max_len_frames() -> None:
    lengths = [12] * 40 + [4]
    x = make_batch(lengths)
    # Make every frame recognisable: frame index in z of point 0.
    x[:, :, 0, 2] = np.where(x[:, :, 0, 2] == PAD_VALUE, PAD_VALUE, np.arange(12)[None, :])
    out = run(make_layer(max_len=5, seed=3, **OFF), x)
    assert out.shape[1] == 5
    starts = []
    for b, t in enumerate(lengths):
        frames = out[b, :, 0, 2].astype(int)
        start = frames[0]
        np.testing.assert_array_equal(out[b, : min(t, 5)], x[b, start : start + min(t, 5)])
        starts.append(start)
    assert starts[-1] == 0
    assert len(set(starts[:-1])) >= 5  # 8 possible starts, 40 draws


def test_affine_with_fixed_parameters_matches_numpy_and_keeps_nan() -> None:
    lengths = [6, 3]
    x = make_batch(lengths)
    fixed = dict(
        affine_scale=(1.1, 1.1),
        affine_shear=(0.1, 0.1),
        affine_rotate_deg=(20.0, 20.0),
        affine_shift=(-0.05, -0.05),
    )
    out = run(make_layer(max_len=None, seed=0, **{**OFF, "affine_p": 1.0, **fixed}), x)
    check_padding(out)
    for b, t in enumerate(lengths):
        ref = random_affine(
            x[b, :t],
            np.random.default_rng(0),
            scale=fixed["affine_scale"],
            shear=fixed["affine_shear"],
            rotate_deg=fixed["affine_rotate_deg"],
            shift=fixed["affine_shift"],
        )
        np.testing.assert_array_equal(np.isnan(out[b, :t]), np.isnan(x[b, :t]))
        np.testing.assert_allclose(out[b, :t], ref, rtol=0, atol=1e-6)
        np.testing.assert_array_equal(out[b, :t, :, 2], x[b, :t, :, 2])


def test_temporal_mask_blanks_one_run_of_the_right_length() -> None:
    lengths = [10, 7, 1, 30, 5] * 4
    x = make_batch(lengths, seed=2)
    x[np.isnan(x)] = 0.5  # no undetected points: a blanked frame is all-NaN
    layer = make_layer(
        max_len=None,
        seed=5,
        **{**OFF, "temporal_mask_p": 1.0, "temporal_mask_size": (0.3, 0.3)},
    )
    out = run(layer, x)
    n = check_padding(out)
    for b, t in enumerate(lengths):
        assert n[b] == t
        blank = np.isnan(out[b, :t]).all(axis=(1, 2))
        count = min(t, round(0.3 * t))
        assert blank.sum() == count
        if count:
            first = int(np.argmax(blank))
            assert blank[first : first + count].all()
        np.testing.assert_array_equal(out[b, :t][~blank], x[b, :t][~blank])


def test_cutout_blanks_exactly_the_points_of_one_box() -> None:
    lengths = [8, 5, 12] * 5
    x = make_batch(lengths, seed=4)
    side = 0.3
    layer = make_layer(
        max_len=None, seed=6, **{**OFF, "cutout_p": 1.0, "cutout_size": (side, side)}
    )
    out = run(layer, x)
    check_padding(out)
    hits = 0
    for b, t in enumerate(lengths):
        seq, res = x[b, :t], out[b, :t]
        blanked = np.isnan(res).all(axis=-1) & ~np.isnan(seq).any(axis=-1)  # [t, P]
        kept = ~np.isnan(res).any(axis=-1)
        np.testing.assert_array_equal(res[kept], seq[kept])
        if not blanked.any():
            continue
        hits += 1
        px, py = seq[..., 0][blanked], seq[..., 1][blanked]
        assert px.max() - px.min() < side and py.max() - py.min() < side
        in_bbox = (
            (seq[..., 0] >= px.min())
            & (seq[..., 0] <= px.max())
            & (seq[..., 1] >= py.min())
            & (seq[..., 1] <= py.max())
        )
        assert not (in_bbox & kept).any()  # the box holds their bounding box
    assert hits >= len(lengths) // 2


def test_recipe_keeps_padding_and_max_len() -> None:
    lengths = list(range(1, 41))
    x = make_batch(lengths, pad_to=48)
    out = run(make_layer(max_len=32, seed=7), x)
    assert out.shape[1] == 32
    n = check_padding(out)
    assert (n >= 1).all() and (n <= 32).all()
    assert not np.isinf(out).any()


# --- config, serialisation ----------------------------------------------------------------
def test_config_round_trip_and_the_settings_of_the_yaml() -> None:
    cfg = OmegaConf.to_container(
        group_config("augment", "default", ["data.max_len=64"]), resolve=True
    )
    cfg.pop("_target_")
    settings = AugmentSettings(**cfg)
    layer = BatchAugmentation.from_settings(settings, seed=3)
    config = layer.get_config()
    expected = settings.get_config()
    assert {k: config[k] for k in expected} == expected
    clone = BatchAugmentation.from_config(config)
    assert clone.get_config() == config
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert restored.get_config() == config
    with pytest.raises(ValueError, match="flip_p"):
        make_layer(flip_p=1.5)
    with pytest.raises(ValueError, match="BatchAugmentation expects"):
        make_layer()(np.zeros((1, 4, 10, 3), np.float32), training=True)


def test_rng_state_restored_from_a_checkpoint_gives_the_same_next_batch(tmp_path) -> None:
    x = make_batch([9, 4, 14, 6])

    def wrapped(seed: int) -> keras.Model:
        inputs = keras.Input((None, N_POINTS, 3))
        return keras.Model(inputs, make_layer(max_len=12, seed=seed)(inputs))

    model = wrapped(seed=11)
    first = np.asarray(keras.ops.convert_to_numpy(model(x, training=True)))
    path = tmp_path / "last.weights.h5"
    model.save_weights(path)
    with h5py.File(path, "a") as f:
        save_rng_states(model, f)
    expected = np.asarray(keras.ops.convert_to_numpy(model(x, training=True)))
    assert not np.array_equal(first, expected, equal_nan=True)

    resumed = wrapped(seed=99)
    other = np.asarray(keras.ops.convert_to_numpy(resumed(x, training=True)))
    assert not np.array_equal(other, expected, equal_nan=True)
    resumed.load_weights(path)
    restore_rng_states(resumed, path)
    again = np.asarray(keras.ops.convert_to_numpy(resumed(x, training=True)))
    np.testing.assert_array_equal(again, expected)


def test_trains_inside_fit_with_varying_lengths() -> None:
    """In a compiled train step (bucket lengths vary batch to batch), padding stays padding."""
    inputs = keras.Input((None, N_POINTS, 3))
    aug = make_layer(max_len=20, seed=0)(inputs)
    real = keras.layers.Lambda(lambda v: keras.ops.where(v == PAD_VALUE, 0.0, v))(aug)
    clean = keras.layers.Lambda(lambda v: keras.ops.nan_to_num(v, nan=0.0))(real)
    pooled = keras.layers.Lambda(lambda v: keras.ops.mean(v, axis=(1, 2)))(clean)
    model = keras.Model(inputs, keras.layers.Dense(3)(pooled))
    model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(True))
    for length in (8, 16, 8):
        x = make_batch([length, length // 2, 3, 1], pad_to=length)
        loss = model.train_on_batch(x, np.array([0, 1, 2, 0]))
        assert np.isfinite(loss)


# --- (3) the same distribution of outcomes as the numpy oracle ----------------------------
N_SAMPLES = 3000
RATE_TOL = 0.05
KS_TOL = 0.07


def ks_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic."""
    grid = np.sort(np.concatenate([a, b]))
    cdf_a = np.searchsorted(np.sort(a), grid, side="right") / len(a)
    cdf_b = np.searchsorted(np.sort(b), grid, side="right") / len(b)
    return float(np.abs(cdf_a - cdf_b).max())


def sample_lengths(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(4, 25, size=N_SAMPLES)


def outcomes(settings: dict, seed: int = 0) -> tuple[list[np.ndarray], list[np.ndarray], list]:
    """The same inputs through the numpy oracle (one rng per sample) and the layer, with the
    recipe's settings changed by ``settings``."""
    lengths = sample_lengths(seed)
    x = make_batch(lengths, pad_to=24, seed=seed)
    x[np.isnan(x)] = 0.5  # fully detected: every NaN in an output was blanked
    spec = settings_of(**settings)
    layer = BatchAugmentation.from_settings(spec, seed=seed)
    inputs = [x[b, :t] for b, t in enumerate(lengths)]
    ref = [augment(s, np.random.default_rng([seed, b]), spec) for b, s in enumerate(inputs)]
    got = []
    for start in range(0, N_SAMPLES, 500):
        out = run(layer, x[start : start + 500])
        got += [o[:t] for o, t in zip(out, lengths_of(out), strict=True)]
    return inputs, ref, got


def affine_determinant(before: np.ndarray, after: np.ndarray) -> float:
    """det of the 2x2 linear part, fitted on the first frame's points (least squares)."""
    p = np.concatenate([before[0, :, :2], np.ones((N_POINTS, 1))], axis=1)
    coef, *_ = np.linalg.lstsq(p, after[0, :, :2], rcond=None)
    return float(np.linalg.det(coef[:2].T))


def test_same_distribution_resample() -> None:
    settings = {**OFF, "max_len": None, "resample_p": 0.8}
    inputs, ref, got = outcomes(settings, seed=1)
    t = np.array([len(s) for s in inputs])
    for name, outs in (("numpy", ref), ("layer", got)):
        assert all(len(o) >= 1 for o in outs), name
    ratio_ref = np.array([len(o) for o in ref]) / t
    ratio_got = np.array([len(o) for o in got]) / t
    assert abs((ratio_ref != 1).mean() - (ratio_got != 1).mean()) < RATE_TOL
    assert abs(ratio_ref.mean() - ratio_got.mean()) < 0.02
    assert ks_distance(ratio_ref, ratio_got) < KS_TOL


def test_same_distribution_flip() -> None:
    inputs, ref, got = outcomes({**OFF, "max_len": None, "flip_p": 0.5}, seed=2)

    def flipped(outs: list[np.ndarray]) -> np.ndarray:
        return np.array([not np.array_equal(o, s) for o, s in zip(outs, inputs, strict=True)])

    rate_ref, rate_got = flipped(ref).mean(), flipped(got).mean()
    assert abs(rate_ref - 0.5) < RATE_TOL and abs(rate_ref - rate_got) < RATE_TOL


def test_same_distribution_affine() -> None:
    inputs, ref, got = outcomes({**OFF, "max_len": None, "affine_p": 0.75}, seed=3)
    det_ref = np.array([affine_determinant(s, o) for s, o in zip(inputs, ref, strict=True)])
    det_got = np.array([affine_determinant(s, o) for s, o in zip(inputs, got, strict=True)])
    moved_ref = np.abs(det_ref - 1) > 1e-6
    moved_got = np.abs(det_got - 1) > 1e-6
    assert abs(moved_ref.mean() - moved_got.mean()) < RATE_TOL
    assert ks_distance(det_ref[moved_ref], det_got[moved_got]) < KS_TOL
    shift_ref = np.array(
        [o[0, :, 0].mean() - s[0, :, 0].mean() for s, o in zip(inputs, ref, strict=True)]
    )
    shift_got = np.array(
        [o[0, :, 0].mean() - s[0, :, 0].mean() for s, o in zip(inputs, got, strict=True)]
    )
    assert ks_distance(shift_ref, shift_got) < KS_TOL


def test_same_distribution_temporal_mask() -> None:
    _, ref, got = outcomes({**OFF, "max_len": None, "temporal_mask_p": 0.5}, seed=4)

    def blanked_fraction(outs: list[np.ndarray]) -> np.ndarray:
        return np.array([np.isnan(o).all(axis=(1, 2)).mean() for o in outs])

    f_ref, f_got = blanked_fraction(ref), blanked_fraction(got)
    assert abs((f_ref > 0).mean() - (f_got > 0).mean()) < RATE_TOL
    assert ks_distance(f_ref[f_ref > 0], f_got[f_got > 0]) < KS_TOL


def test_same_distribution_cutout() -> None:
    _, ref, got = outcomes({**OFF, "max_len": None, "cutout_p": 0.5}, seed=5)

    def cut_fraction(outs: list[np.ndarray]) -> np.ndarray:
        return np.array([np.isnan(o[..., 0]).mean() for o in outs])

    c_ref, c_got = cut_fraction(ref), cut_fraction(got)
    assert abs((c_ref > 0).mean() - (c_got > 0).mean()) < RATE_TOL
    assert ks_distance(c_ref, c_got) < KS_TOL


def test_same_distribution_full_recipe() -> None:
    settings = {"max_len": 20}  # the recipe's defaults, with the crop active
    _, ref, got = outcomes(settings, seed=6)
    len_ref = np.array([len(o) for o in ref], dtype=float)
    len_got = np.array([len(o) for o in got], dtype=float)
    assert abs(len_ref.mean() - len_got.mean()) < 0.3
    assert ks_distance(len_ref, len_got) < KS_TOL
    nan_ref = np.array([np.isnan(o).mean() for o in ref])
    nan_got = np.array([np.isnan(o).mean() for o in got])
    assert ks_distance(nan_ref, nan_got) < KS_TOL


def test_keras_layer_contract(tmp_path) -> None:
    """The keras-hub-style contract every islr layer passes (config, build, symbolic and eager
    calls, mixed precision: float32 unless asked, .keras round trip); one seed-state variable."""
    run_layer_test(
        BatchAugmentation,
        {**recipe(max_len=16), "seed": 3},
        np.nan_to_num(make_batch([12, 5, 9], pad_to=12), nan=0.5),
        (3, 12, N_POINTS, 3),  # identity outside training
        tmp_path=tmp_path,
        dynamic_axes=(0, 1),
        expected_num_non_trainable_variables=1,
        float32_by_default=True,
    )


def test_augments_in_float32_under_a_mixed_policy() -> None:
    x = make_batch([12, 5, 9])
    expected = run(make_layer(max_len=16, seed=3), x)
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        layer = make_layer(max_len=16, seed=3)
        out = layer(x, training=True)
    finally:
        keras.config.set_dtype_policy("float32")
    assert keras.backend.standardize_dtype(out.dtype) == "float32"
    np.testing.assert_array_equal(np.asarray(keras.ops.convert_to_numpy(out)), expected)


def test_the_layer_states_no_settings_of_its_own() -> None:
    """The YAML states the values (the schema the names): the layer requires every setting."""
    from islr.config.schema import AugmentConfig

    assert set(SETTINGS) == set(AugmentConfig.__dataclass_fields__) - {"_target_"}
    with pytest.raises(TypeError, match=r"missing setting.*flip_p"):
        BatchAugmentation(**{k: v for k, v in recipe().items() if k != "flip_p"})
    with pytest.raises(TypeError, match="missing setting"):
        BatchAugmentation()
