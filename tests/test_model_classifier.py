"""islr.model builders: parameter count, padding invariance, training, precision, save, configs."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from islr.config import group_config, network_config
from islr.landmarks import N_FEATURES, N_POINTS, PAD_VALUE
from islr.model import Conv1DBlock, LateDropout, build_classifier, build_sign_model
from model_settings import model_settings

# Marked `backend` where the test must also pass under JAX. Under JAX eager calls compile each op
# per shape, so inference goes through the jitted `predict_on_batch` there (see `_infer`).
backend = pytest.mark.backend

REFERENCE_WEIGHTS = 1_836_568  # recipe §3, BN statistics included
TINY = model_settings(
    num_classes=11, dim=32, num_stacks=1, conv_blocks_per_stack=2, kernel_size=5, num_heads=4
)
INVARIANCE_LENGTHS = (1, 2, 5, 17, 40)


@pytest.fixture(autouse=True)
def _float32_policy():
    """Every test starts and ends with the default float32 policy."""
    keras.config.set_dtype_policy("float32")
    yield
    keras.config.set_dtype_policy("float32")


def _np(x) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(x))


def _yaml(name: str) -> dict:
    return OmegaConf.to_container(network_config(group_config("model", name)))


def _infer(model: keras.Model, x: np.ndarray) -> np.ndarray:
    """Inference-mode logits; one XLA program per shape under JAX, eager under TensorFlow."""
    if keras.backend.backend() == "jax":
        return np.asarray(model.predict_on_batch(x))
    return _np(model(x, training=False))


def _weight_count(model: keras.Model) -> int:
    """All weights (trainable, BN statistics) except LateDropout's step counter."""
    skip = {id(lyr.step) for lyr in model.layers if isinstance(lyr, LateDropout)}
    return sum(int(np.prod(v.shape)) for v in model.weights if id(v) not in skip)


def _pad_batch(seqs: list[np.ndarray]) -> np.ndarray:
    """Stack sequences of different lengths, padding the end of time with PAD_VALUE."""
    longest = max(len(s) for s in seqs)
    out = np.full((len(seqs), longest, *seqs[0].shape[1:]), PAD_VALUE, "float32")
    for i, s in enumerate(seqs):
        out[i, : len(s)] = s
    return out


def _landmarks(rng: np.random.Generator, length: int) -> np.ndarray:
    """Plausible raw points: coordinates around 0.5 with a missing hand (NaN) in some frames."""
    x = rng.uniform(0.3, 0.7, size=(length, N_POINTS, 3)).astype("float32")
    x[rng.random(length) < 0.3, 40:61] = np.nan
    return x


def _warm_up_bn(model: keras.Model) -> None:
    """Move BN statistics away from their initial values so the check is not trivially exact."""
    for layer in model.layers:
        for v in layer.non_trainable_weights:
            if "moving" in v.path:
                v.assign(np.full(v.shape, 0.3 if "mean" in v.path else 1.7, "float32"))


# --- the reference model -------------------------------------------------------------------------
def test_reference_yaml_has_the_recipe_weight_count():
    config = _yaml("reference")
    assert config.pop("_target_") == "islr.model.build_sign_model"
    classifier = build_classifier(num_classes=250, late_dropout_start_step=0, **config)
    assert _weight_count(classifier) == REFERENCE_WEIGHTS
    # Only the step counter may come on top.
    assert classifier.count_params() - REFERENCE_WEIGHTS in (0, 1)
    assert classifier.output_shape == (None, 250)


def test_yaml_configs_instantiate_with_what_the_trainer_passes():
    for name in ("tiny", "small", "reference"):  # the trainer's, never the config's
        assert not {"max_len", "num_classes", "late_dropout_start_step"} & _yaml(name).keys()
    model = instantiate(
        network_config(group_config("model", "tiny")),
        num_classes=7,
        max_len=64,
        late_dropout_start_step=123,
    )
    assert model.input_shape == (None, None, N_POINTS, 3)
    assert model.output_shape == (None, 7)
    assert model.get_layer("late_dropout").start_step == 123
    assert 100_000 <= _weight_count(model) <= 200_000


# --- padding invariance ------------------------------------------------------------------------
def test_classifier_logits_do_not_depend_on_padding():
    rng = np.random.default_rng(0)
    model = build_classifier(**TINY)
    seqs = [rng.normal(size=(n, N_FEATURES)).astype("float32") for n in INVARIANCE_LENGTHS]
    seqs.append(rng.normal(size=(48, N_FEATURES)).astype("float32"))  # the longest sets T
    batch = _pad_batch(seqs)
    _warm_up_bn(model)
    batched = _infer(model, batch)
    for i, seq in enumerate(seqs):
        alone = _infer(model, seq[None])[0]
        np.testing.assert_allclose(batched[i], alone, atol=1e-5, err_msg=f"T={len(seq)}")


@backend
def test_sign_model_logits_do_not_depend_on_padding_or_truncation():
    rng = np.random.default_rng(1)
    max_len = 24
    model = build_sign_model(max_len=max_len, **TINY)
    lengths = (*INVARIANCE_LENGTHS, 30)  # 40 and 30 are longer than max_len
    seqs = [_landmarks(rng, n) for n in lengths]
    seqs.append(_landmarks(rng, 52))
    batch = _pad_batch([*seqs, seqs[0]])
    batch[-1] = PAD_VALUE  # a sequence without a single real frame
    _warm_up_bn(model)
    batched = _infer(model, batch)
    assert np.all(np.isfinite(batched))  # also for the empty sequence
    for i, seq in enumerate(seqs):
        alone = _infer(model, seq[None])[0]
        np.testing.assert_allclose(batched[i], alone, atol=1e-5, err_msg=f"T={len(seq)}")


# --- training, precision, saving ----------------------------------------------------------
def _fit_one_batch(model: keras.Model, x: np.ndarray) -> float:
    optimizer = keras.optimizers.Adam(1e-3)
    if keras.config.dtype_policy().name == "mixed_float16":
        # Keras' default loss scale (2**15) can overflow fp16 gradients on the first step, which
        # the optimizer then skips; a modest fixed start keeps "one step changes weights" true.
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer, initial_scale=2.0**4)
    model.compile(
        optimizer,
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    y = np.arange(len(x)) % TINY["num_classes"]
    history = model.fit(x, y, batch_size=len(x), epochs=1, verbose=0)
    return history.history["loss"][0]


@backend
def test_sign_model_trains_one_step_and_round_trips_through_a_keras_file(tmp_path):
    rng = np.random.default_rng(3)
    model = build_sign_model(max_len=16, **TINY)
    x = _pad_batch([_landmarks(rng, n) for n in (20, 9, 3, 12)])
    stem = model.get_layer("stem_dense").kernel
    before = _np(stem).copy()
    assert np.isfinite(_fit_one_batch(model, x))
    assert not np.allclose(_np(stem), before)
    assert int(_np(model.get_layer("late_dropout").step)) == 1
    expected = _infer(model, x)
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(_infer(loaded, x), expected, atol=1e-6)
    assert int(_np(loaded.get_layer("late_dropout").step)) == 1


def _mixed_model(policy: str) -> tuple[keras.Model, np.ndarray]:
    keras.config.set_dtype_policy(policy)
    rng = np.random.default_rng(4)
    model = build_sign_model(max_len=16, **TINY)
    return model, _pad_batch([_landmarks(rng, n) for n in (12, 5)])


@backend
@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_model_computes_in_half_with_float32_logits(policy):
    model, x = _mixed_model(policy)
    logits = model(x[:, :6], training=False)  # short T: cheap under JAX's per-op compilation
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"
    assert np.all(np.isfinite(_np(logits)))
    assert model.get_layer("features").compute_dtype == "float32"
    blocks = [lyr for lyr in model.layers if isinstance(lyr, Conv1DBlock)]
    half = policy.removeprefix("mixed_")
    assert blocks and all(b.compute_dtype == half for b in blocks)
    # Only the features (their own default) and the logits (their layer dtype) stay float32.
    assert model.get_layer("masking").compute_dtype == half
    assert model.get_layer("logits").compute_dtype == "float32"


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_model_trains_one_step(policy):
    model, x = _mixed_model(policy)
    before = _np(model.get_layer("logits").kernel).copy()
    assert np.isfinite(_fit_one_batch(model, x))
    assert not np.allclose(_np(model.get_layer("logits").kernel), before)


# --- options and bad input ----------------------------------------------------------------
def test_layer_norm_and_head_scale_options_build_and_differ():
    rng = np.random.default_rng(6)
    x = _pad_batch([rng.normal(size=(n, N_FEATURES)).astype("float32") for n in (6, 3)])
    keras.utils.set_random_seed(0)
    base = build_classifier(**TINY)
    keras.utils.set_random_seed(0)
    variant = build_classifier(**{**TINY, "norm": "layer", "attn_scale": "head"})
    assert variant.get_layer("stack0_transformer").norm == "layer"
    assert np.all(np.isfinite(_np(variant(x, training=False))))
    assert _weight_count(variant) != _weight_count(base)  # LN has no moving statistics


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"dim": 30, "num_heads": 4}, "num_heads"),
        ({"num_classes": 0}, "num_classes"),
        ({"conv_drop_rate": 1.5}, "conv_drop_rate"),
        ({"norm": "group"}, "norm"),
        ({"attn_scale": "sqrt"}, "attn_scale"),
    ],
)
def test_builders_reject_bad_arguments(kwargs, word):
    with pytest.raises(ValueError, match=word):
        build_classifier(**{**TINY, **kwargs})


def test_sign_model_rejects_a_different_input_dim():
    with pytest.raises(ValueError, match="input_dim"):
        build_sign_model(max_len=16, input_dim=64, **TINY)
