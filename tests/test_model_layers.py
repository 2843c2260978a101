"""islr.model layers: behaviour against NumPy references, masks, and the Keras layer contract."""

from __future__ import annotations

import inspect

import keras
import numpy as np
import pytest

from islr.landmarks import PAD_VALUE
from islr.model import (
    ECA,
    CausalDepthwiseConv1D,
    Conv1DBlock,
    DropPath,
    FrameDense,
    LateDropout,
    MaskedGlobalAveragePooling1D,
    MultiHeadSelfAttention,
    TransformerBlock,
    adaptive_eca_kernel_size,
)

# The Keras-contract tests (config, shapes, fit, precision, .keras) run under TensorFlow; the
# behavioural tests are marked `backend` and also run under JAX (whose eager mode compiles every
# op per shape, so it gets the tests that matter for it, not the whole matrix).
backend = pytest.mark.backend

B, T, C = 3, 7, 16
LENGTHS = (7, 4, 1)  # real frames per sample in the test batch


@pytest.fixture(autouse=True)
def _float32_policy():
    """Every test starts and ends with the default float32 policy."""
    keras.config.set_dtype_policy("float32")
    yield
    keras.config.set_dtype_policy("float32")


def _batch(seed: int = 0, channels: int = C) -> tuple[np.ndarray, np.ndarray]:
    """Random ``[B, T, channels]`` values and the ``[B, T]`` real-frame mask of LENGTHS."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(B, T, channels)).astype("float32")
    mask = np.arange(T)[None, :] < np.array(LENGTHS)[:, None]
    return x, mask


def _np(x) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(x))


def _call(layer: keras.layers.Layer, x, mask, **kwargs):
    """Call ``layer``, passing ``mask`` only where its ``call`` takes one."""
    if "mask" in inspect.signature(layer.call).parameters:
        kwargs["mask"] = mask
    return layer(x, **kwargs)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


# --- every layer: the Keras contract ---------------------------------------------------------
# name -> (factory, has_trainable_weights)
LAYERS = {
    "eca": (lambda: ECA(kernel_size=3), True),
    "eca_adaptive": (lambda: ECA(kernel_size=None), True),
    "causal_conv": (lambda: CausalDepthwiseConv1D(5, dilation_rate=2, use_bias=True), True),
    "drop_path": (lambda: DropPath(0.3, seed=1), False),
    "frame_dense": (lambda: FrameDense(C, activation="swish"), True),
    "conv_block": (lambda: Conv1DBlock(C, kernel_size=5, drop_path_rate=0.1), True),
    "attention": (lambda: MultiHeadSelfAttention(C, num_heads=4, dropout=0.1, scale="head"), True),
    "transformer_batch": (lambda: TransformerBlock(C, num_heads=4, norm="batch"), True),
    "transformer_layer": (lambda: TransformerBlock(C, num_heads=2, norm="layer"), True),
    "late_dropout": (lambda: LateDropout(0.5, start_step=1, seed=2), False),
    "pooling": (lambda: MaskedGlobalAveragePooling1D(), False),
}


def _wrap(layer: keras.layers.Layer) -> keras.Model:
    """Masking -> layer (-> pooling) -> Dense(3): a model that trains and saves the layer."""
    inputs = keras.Input((None, C))
    x = keras.layers.Masking(PAD_VALUE)(inputs)
    x = layer(x)
    if len(x.shape) == 3:
        x = MaskedGlobalAveragePooling1D()(x)
    return keras.Model(inputs, keras.layers.Dense(3, dtype="float32")(x))


def _padded(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return np.where(mask[..., None], x, PAD_VALUE).astype("float32")


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_config_round_trip_gives_same_outputs(name):
    layer = LAYERS[name][0]()
    x, mask = _batch()
    y = _np(_call(layer, x, mask))
    config = layer.get_config()
    # Every argument of our own constructors is in the config (FrameDense inherits Dense's
    # constructor and config as they are).
    if "__init__" in vars(type(layer)):
        params = set(inspect.signature(type(layer).__init__).parameters) - {"self", "kwargs"}
        assert params <= set(config), f"{name}: get_config misses {params - set(config)}"
    clone = type(layer).from_config(config)
    _call(clone, x, mask)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(_np(_call(clone, x, mask)), y, atol=1e-6)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_symbolic_and_eager_calls_agree_on_shape(name):
    layer = LAYERS[name][0]()
    symbolic = layer(keras.Input((None, C), batch_size=B))
    x, mask = _batch()
    eager = _np(_call(layer, x, mask))
    assert tuple(symbolic.shape) == tuple(layer.compute_output_shape((B, None, C)))
    concrete = layer.compute_output_shape((B, T, C))
    assert eager.shape == tuple(concrete)
    assert np.all(np.isfinite(eager))


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_one_training_step_updates_the_layer(name):
    factory, has_weights = LAYERS[name]
    layer = factory()
    model = _wrap(layer)
    model.compile(keras.optimizers.SGD(0.1), keras.losses.SparseCategoricalCrossentropy(True))
    x, mask = _batch()
    before = [w.copy() for w in layer.get_weights()]
    history = model.fit(_padded(x, mask), np.array([0, 1, 2]), batch_size=B, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    if has_weights:
        after = [w for w, v in zip(layer.get_weights(), layer.weights, strict=True) if v.trainable]
        before_t = [w for w, v in zip(before, layer.weights, strict=True) if v.trainable]
        assert any(not np.allclose(a, b) for a, b in zip(after, before_t, strict=True))


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_mixed_precision_computes_in_half_and_keeps_float32_weights(name, policy):
    keras.config.set_dtype_policy(policy)
    layer = LAYERS[name][0]()
    x, mask = _batch()
    y = _call(layer, x, mask)
    half = policy.removeprefix("mixed_")
    assert layer.compute_dtype == half
    assert keras.backend.standardize_dtype(y.dtype) == half
    assert all(v.dtype in ("float32", "int32", "uint32") for v in layer.weights)
    assert np.all(np.isfinite(_np(keras.ops.cast(y, "float32"))))


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_keras_file_round_trip(name, tmp_path):
    model = _wrap(LAYERS[name][0]())
    x, mask = _batch()
    xp = _padded(x, mask)
    expected = _np(model(xp, training=False))
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(_np(loaded(xp, training=False)), expected, atol=1e-6)


# --- masks flow: padded values never reach real outputs ----------------------------------
@backend
@pytest.mark.parametrize(
    "name", ["eca", "causal_conv", "conv_block", "attention", "transformer_batch", "pooling"]
)
def test_padded_values_do_not_change_real_outputs(name):
    layer = LAYERS[name][0]()
    x, mask = _batch()
    other = np.where(mask[..., None], x, 1e3 * np.ones_like(x))  # garbage in padded steps
    y1 = _np(layer(x, mask=mask, training=False))
    y2 = _np(layer(other, mask=mask, training=False))
    if y1.ndim == 3:
        y1, y2 = y1[mask], y2[mask]
    np.testing.assert_allclose(y1, y2, atol=1e-4)


@backend
@pytest.mark.parametrize(
    "name", ["eca", "causal_conv", "conv_block", "attention", "transformer_batch"]
)
def test_mask_reaches_the_next_layer(name):
    """Masking -> layer -> masked pooling averages the layer's real steps only."""
    layer = LAYERS[name][0]()
    inputs = keras.Input((None, C))
    hidden = layer(keras.layers.Masking(PAD_VALUE)(inputs))
    model = keras.Model(inputs, [hidden, MaskedGlobalAveragePooling1D()(hidden)])
    x, mask = _batch()
    seq, pooled = (_np(t) for t in model(_padded(x, mask), training=False))
    expected = np.stack([seq[i, : LENGTHS[i]].mean(axis=0) for i in range(B)])
    np.testing.assert_allclose(pooled, expected, atol=1e-5)


# --- ECA -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("channels", "k"), [(4, 1), (16, 3), (64, 3), (192, 5), (384, 5), (1024, 5), (4096, 7)]
)
def test_adaptive_eca_kernel_size_follows_eca_net(channels, k):
    # |log2(C)/2 + 1/2| rounded to its odd neighbour, e.g. C=192: 4.29 -> 5; C=4096: 6.5 -> 7.
    assert adaptive_eca_kernel_size(channels) == k


@backend
def test_eca_matches_numpy_reference():
    layer = ECA(kernel_size=3)
    x, mask = _batch()
    y = _np(layer(x, mask=mask))
    w = _np(layer.kernel)[:, 0, 0]  # [3]
    s = np.stack([x[i, : LENGTHS[i]].mean(axis=0) for i in range(B)])  # [B, C]
    s_pad = np.pad(s, ((0, 0), (1, 1)))
    conv = np.stack([s_pad[:, c : c + 3] @ w for c in range(C)], axis=1)
    np.testing.assert_allclose(y, x * _sigmoid(conv)[:, None, :], atol=1e-5)


def test_eca_adaptive_kernel_is_built_from_channels():
    layer = ECA(kernel_size=None)
    layer.build((None, None, 192))
    assert tuple(layer.kernel.shape) == (5, 1, 1)


# --- causal depthwise conv -------------------------------------------------------------------
@backend
def test_causal_conv_matches_numpy_reference_and_is_causal():
    k, d = 5, 2
    layer = CausalDepthwiseConv1D(k, dilation_rate=d)
    x, _ = _batch()
    y = _np(layer(x))
    w = _np(layer.kernel)[:, :, 0]  # [k, C]
    expected = np.zeros_like(x)
    for t in range(T):
        for j in range(k):
            src = t - (k - 1 - j) * d
            if src >= 0:
                expected[:, t] += w[j] * x[:, src]
    np.testing.assert_allclose(y, expected, atol=1e-5)
    later = x.copy()
    later[:, 4:] += 10.0
    np.testing.assert_allclose(_np(layer(later))[:, :4], y[:, :4], atol=1e-6)


def test_causal_conv_weights_match_keras_depthwise_layout():
    layer = CausalDepthwiseConv1D(3)
    stock = keras.layers.DepthwiseConv1D(3, use_bias=False)
    x, _ = _batch()
    layer(x)
    stock(np.pad(x, ((0, 0), (2, 0), (0, 0))))
    stock.set_weights(layer.get_weights())
    np.testing.assert_allclose(
        _np(layer(x)), _np(stock(np.pad(x, ((0, 0), (2, 0), (0, 0))))), atol=1e-6
    )


# --- drop path -------------------------------------------------------------------------------
@backend
def test_drop_path_drops_whole_samples_and_rescales():
    rate = 0.25
    layer = DropPath(rate, seed=3)
    x = np.ones((400, 5, 4), "float32")
    y = _np(layer(x, training=True))
    per_sample = y.reshape(400, -1)
    # Each sample is all zeros or all 1 / (1 - rate).
    assert np.all((per_sample == 0).all(1) | np.isclose(per_sample, 1 / (1 - rate)).all(1))
    dropped = (per_sample == 0).all(1).mean()
    assert 0.15 < dropped < 0.35
    np.testing.assert_array_equal(_np(layer(x, training=False)), x)


# --- attention -------------------------------------------------------------------------------
@backend
@pytest.mark.parametrize("scale", ["dim", "head"])
def test_attention_matches_numpy_reference(scale):
    heads, hd = 4, C // 4
    layer = MultiHeadSelfAttention(C, num_heads=heads, scale=scale)
    x, mask = _batch()
    y = _np(layer(x, mask=mask))
    w_qkv, w_out = _np(layer.qkv.kernel), _np(layer.out.kernel)
    qkv = (x @ w_qkv).reshape(B, T, 3, heads, hd)
    q, k, v = (qkv[:, :, i].transpose(0, 2, 1, 3) for i in range(3))  # [B, H, T, hd]
    logits = q @ k.transpose(0, 1, 3, 2) * (C if scale == "dim" else hd) ** -0.5
    logits = np.where(mask[:, None, None, :], logits, -np.inf)
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    expected = (p @ v).transpose(0, 2, 1, 3).reshape(B, T, C) @ w_out
    np.testing.assert_allclose(y, expected, atol=1e-5)


@backend
def test_attention_with_no_real_key_stays_finite():
    layer = MultiHeadSelfAttention(C, num_heads=4)
    x, _ = _batch()
    y = _np(layer(x, mask=np.zeros((B, T), bool)))
    assert np.all(np.isfinite(y))


# --- late dropout ------------------------------------------------------------------------------
@backend
def test_late_dropout_starts_at_its_step_and_counts_training_calls_only():
    layer = LateDropout(0.5, start_step=2, seed=0)
    x = np.ones((4, 64), "float32")
    for _ in range(2):
        np.testing.assert_array_equal(_np(layer(x, training=True)), x)
    np.testing.assert_array_equal(_np(layer(x, training=False)), x)  # does not count
    assert int(_np(layer.step)) == 2
    y = _np(layer(x, training=True))
    assert 0.3 < (y == 0).mean() < 0.7
    assert np.allclose(y[y != 0], 2.0)
    assert int(_np(layer.step)) == 3


@backend
def test_late_dropout_counter_advances_through_stateless_call():
    """The path JAX training takes: the new count comes back as a non-trainable variable."""
    layer = LateDropout(0.5, start_step=1, seed=0)
    x = np.ones((2, 8), "float32")
    layer.build(x.shape)
    out, non_trainable = layer.stateless_call(
        layer.trainable_variables, layer.non_trainable_variables, x, training=True
    )
    np.testing.assert_array_equal(_np(out), x)  # step 0 < start_step: identity
    step_index = next(i for i, v in enumerate(layer.non_trainable_variables) if v is layer.step)
    assert int(_np(non_trainable[step_index])) == 1
    assert int(_np(layer.step)) == 0  # stateless: the layer's own variable is untouched


@backend
def test_late_dropout_counter_advances_in_fit_and_survives_save(tmp_path):
    layer = LateDropout(0.5, start_step=100, seed=0)
    model = _wrap(layer)
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(True))
    x, mask = _batch()
    xp = np.concatenate([_padded(x, mask)] * 4)
    model.fit(xp, np.zeros(len(xp), "int32"), batch_size=B, epochs=1, verbose=0)
    assert int(_np(layer.step)) == 4  # one per training batch
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    reloaded = next(lyr for lyr in loaded.layers if isinstance(lyr, LateDropout))
    assert int(_np(reloaded.step)) == 4
    assert reloaded.start_step == 100


# --- frame dense -------------------------------------------------------------------------------
@backend
@pytest.mark.parametrize("shape", [(B, T, C), (B, C), (B, 1, C)])
def test_frame_dense_equals_dense_with_the_same_weights(shape):
    x = np.random.default_rng(3).normal(size=shape).astype("float32")
    frame = FrameDense(5, activation="swish")
    stock = keras.layers.Dense(5, activation="swish")
    y = _np(frame(x))
    stock(x)
    stock.set_weights(frame.get_weights())
    assert y.shape == (*shape[:-1], 5)
    np.testing.assert_allclose(y, _np(stock(x)), atol=1e-6)


@backend
def test_frame_dense_passes_the_mask_on():
    x, mask = _batch()
    inputs = keras.Input((None, C))
    hidden = FrameDense(4)(keras.layers.Masking(PAD_VALUE)(inputs))
    pooled = MaskedGlobalAveragePooling1D()(hidden)
    model = keras.Model(inputs, [hidden, pooled])
    seq, out = (_np(t) for t in model(_padded(x, mask), training=False))
    expected = np.stack([seq[i, : LENGTHS[i]].mean(axis=0) for i in range(B)])
    np.testing.assert_allclose(out, expected, atol=1e-5)


# --- pooling -----------------------------------------------------------------------------------
@backend
def test_masked_pooling_matches_numpy_and_is_zero_for_empty_sequences():
    layer = MaskedGlobalAveragePooling1D()
    x, mask = _batch()
    mask[2] = False  # no real frame at all
    y = _np(layer(x, mask=mask))
    np.testing.assert_allclose(y[:2], [x[i, : LENGTHS[i]].mean(0) for i in range(2)], atol=1e-6)
    np.testing.assert_array_equal(y[2], np.zeros(C))


# --- bad arguments -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("factory", "word"),
    [
        (lambda: ECA(kernel_size=0), "kernel_size"),
        (lambda: CausalDepthwiseConv1D(0), "kernel_size"),
        (lambda: DropPath(1.0), "rate"),
        (lambda: MultiHeadSelfAttention(10, num_heads=4), "num_heads"),
        (lambda: MultiHeadSelfAttention(8, scale="sqrt"), "scale"),
        (lambda: TransformerBlock(8, num_heads=2, norm="group"), "norm"),
        (lambda: LateDropout(0.5, start_step=-1), "start_step"),
    ],
)
def test_bad_arguments_raise_clear_errors(factory, word):
    with pytest.raises(ValueError, match=word):
        factory()
