"""islr.model layers: behaviour against NumPy references, masks, and the Keras layer contract."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import keras
import numpy as np
import pytest

from islr.landmarks import PAD_VALUE
from islr.model import (
    ECA,
    BatchNormalization,
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
from layer_test_case import run_layer_test

# The Keras-contract test (run_layer_test: config, shapes, fit, precision, .keras) runs under
# TensorFlow; the behavioural tests are marked `backend` and also run under JAX (whose eager
# mode compiles every op per shape, so it gets the tests that matter for it, not the matrix).
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


# Every layer argument that carries a model setting is required; the tests state their own
# small values (the model's come from conf/model/*.yaml).
ATTENTION = {"num_heads": 4, "dropout": 0.0, "scale": "dim"}
TRANSFORMER = {
    "num_heads": 4,
    "expand_ratio": 2,
    "attn_drop_rate": 0.1,
    "drop_path_rate": 0.1,
    "bn_momentum": 0.9,
    "norm": "batch",
    "attn_scale": "dim",
}
CONV_BLOCK = {"expand_ratio": 2, "drop_path_rate": 0.1, "eca_kernel_size": 3, "bn_momentum": 0.9}


# --- every layer: the Keras contract (tests/layer_test_case.py) ------------------------------
# name -> (class, init kwargs, input, expected output shape, run_layer_test options). Inputs are
# the [B, T, C] batch with its mask, or [B, C] for the layers used after pooling.
_SEQ = {"mask_passes": True, "dynamic_axes": (0, 1)}
CONTRACT = {
    "eca": (ECA, {"kernel_size": 3}, (B, T, C), {**_SEQ, "expected_num_trainable_weights": 1}),
    "eca_adaptive": (
        ECA,
        {"kernel_size": None},
        (B, T, C),
        {**_SEQ, "expected_num_trainable_weights": 1},
    ),
    "causal_conv": (
        CausalDepthwiseConv1D,
        {"kernel_size": 5, "dilation_rate": 2, "use_bias": True},
        (B, T, C),
        {**_SEQ, "expected_num_trainable_weights": 2},
    ),
    "batch_norm": (  # islr's: statistics over every replica's rows (tf.distribute)
        BatchNormalization,
        {"momentum": 0.9},
        (B, T, C),
        {**_SEQ, "expected_num_trainable_weights": 2, "expected_num_non_trainable_weights": 2},
    ),
    "drop_path": (
        DropPath,
        {"rate": 0.3, "seed": 1},
        (B, T, C),
        {**_SEQ, "expected_num_non_trainable_variables": 1, "run_training_check": True},
    ),
    "frame_dense": (
        FrameDense,
        {"units": 5, "activation": "swish"},
        (B, T, 5),
        {**_SEQ, "expected_num_trainable_weights": 2},
    ),
    "frame_dense_rank2": (
        FrameDense,
        {"units": 5, "activation": "swish"},
        (B, 5),
        {"expected_num_trainable_weights": 2},
    ),
    "conv_block": (
        Conv1DBlock,
        {**CONV_BLOCK, "dim": C, "kernel_size": 5},
        (B, T, C),
        {
            **_SEQ,
            "expected_num_trainable_weights": 8,  # expand 2, dwconv 1, bn 2, eca 1, project 2
            "expected_num_non_trainable_weights": 2,  # BN statistics
            "expected_num_non_trainable_variables": 3,  # + the drop-path seed
        },
    ),
    "conv_block_narrowing": (
        Conv1DBlock,
        {
            **CONV_BLOCK,
            "dim": 8,
            "kernel_size": 3,
            "expand_ratio": 3,
            "eca_kernel_size": None,
            "activation": keras.activations.gelu,
        },
        (B, T, 8),
        {
            **_SEQ,
            "expected_num_trainable_weights": 8,
            "expected_num_non_trainable_weights": 2,
            "expected_num_non_trainable_variables": 3,
        },
    ),
    "attention": (
        MultiHeadSelfAttention,
        {"num_heads": 4, "dropout": 0.1, "scale": "head", "seed": 3},
        (B, T, C),
        {
            **_SEQ,
            "expected_num_trainable_weights": 2,  # qkv and out kernels
            "expected_num_non_trainable_variables": 1,  # dropout seed
        },
    ),
    "transformer_batch": (
        TransformerBlock,
        TRANSFORMER,
        (B, T, C),
        {
            **_SEQ,
            "expected_num_trainable_weights": 8,  # 2 norms x 2, qkv, out, 2 FFN kernels
            "expected_num_non_trainable_weights": 4,  # 2 BN x 2 statistics
            "expected_num_non_trainable_variables": 7,  # + 3 seeds (attention, 2 drop paths)
        },
    ),
    "transformer_layer": (
        TransformerBlock,
        {
            **TRANSFORMER,
            "num_heads": 2,
            "norm": "layer",
            "attn_scale": "head",
            "activation": keras.activations.relu6,
        },
        (B, T, C),
        {
            **_SEQ,
            "expected_num_trainable_weights": 8,
            "expected_num_non_trainable_variables": 3,
        },
    ),
    "late_dropout": (
        LateDropout,
        {"rate": 0.5, "start_step": 1, "seed": 2},
        (B, C),
        {
            "expected_num_non_trainable_weights": 1,  # the int32 step counter
            "expected_num_non_trainable_variables": 2,  # + the seed
            "run_training_check": True,
        },
    ),
    "pooling": (
        MaskedGlobalAveragePooling1D,
        {},
        (B, C),
        {"mask_passes": False, "dynamic_axes": (0, 1)},
    ),
}


@pytest.mark.parametrize("name", sorted(CONTRACT))
def test_layer_contract(name, tmp_path):
    cls, kwargs, out_shape, options = CONTRACT[name]
    x, mask = _batch()
    if "mask_passes" not in options:  # a layer used after pooling: [B, C], no mask
        x, mask = x[:, 0], None
    run_layer_test(cls, kwargs, x, out_shape, tmp_path=tmp_path, mask=mask, **options)


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


# --- masks flow: padded values never reach real outputs ----------------------------------
def _make(name: str) -> keras.layers.Layer:
    cls, kwargs, _, _ = CONTRACT[name]
    return cls(**kwargs)


@backend
@pytest.mark.parametrize(
    "name", ["eca", "causal_conv", "conv_block", "attention", "transformer_batch", "pooling"]
)
def test_padded_values_do_not_change_real_outputs(name):
    layer = _make(name)
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
    layer = _make(name)
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
    layer = MultiHeadSelfAttention(**{**ATTENTION, "num_heads": heads, "scale": scale})
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
    layer = MultiHeadSelfAttention(**ATTENTION)
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
        (lambda: MultiHeadSelfAttention(**ATTENTION).build((None, None, 10)), "num_heads"),
        (lambda: MultiHeadSelfAttention(**{**ATTENTION, "num_heads": 0}), "num_heads"),
        (lambda: MultiHeadSelfAttention(**{**ATTENTION, "scale": "sqrt"}), "scale"),
        (lambda: TransformerBlock(**{**TRANSFORMER, "norm": "group"}), "norm"),
        (
            lambda: TransformerBlock(**{**TRANSFORMER, "num_heads": 2}).build((None, None, 7)),
            "num_heads",
        ),
        (lambda: LateDropout(0.5, start_step=-1), "start_step"),
    ],
)
def test_bad_arguments_raise_clear_errors(factory, word):
    with pytest.raises(ValueError, match=word):
        factory()


# --- public Keras API only -----------------------------------------------------------------------
_SRC = Path(__file__).resolve().parents[1] / "src" / "islr"
_PUBLIC_ONLY = [
    *sorted((_SRC / "model").glob("*.py")),
    *sorted((_SRC / "features").glob("*.py")),
    *sorted((_SRC / "export" / "layers").glob("*.py")),
    _SRC / "export" / "inference.py",
    _SRC / "train" / "awp.py",
]


@pytest.mark.parametrize("path", _PUBLIC_ONLY, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_layers_export_and_awp_use_public_keras_only(path):
    """No ``keras.src`` import and no private attribute other than the file's own: private
    Keras internals move between minor releases."""
    text = path.read_text()
    assert "keras.src" not in text
    own = set(re.findall(r"def (_\w+)", text)) | set(re.findall(r"self\.(_\w+) =", text))
    used = set(re.findall(r"\w\.(_[a-z]\w*)", text))
    assert used <= own, f"private attributes used: {sorted(used - own)}"
