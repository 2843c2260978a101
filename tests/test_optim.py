"""Optimizers, learning-rate schedule and loss (islr.train.optimizers / islr.train.losses)."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from islr.train.awp import AWPModel
from islr.train.losses import SparseCategoricalCrossentropyWithSmoothing
from islr.train.optimizers import Lookahead, RAdam, build_optimizer, cosine_schedule

pytestmark = pytest.mark.backend


def _numpy_radam(w0, grads, lr, beta_1, beta_2, eps, threshold, weight_decay):
    """The paper's update (Liu et al. 2019, Alg. 2) with decoupled decay, in float64."""
    w = w0.astype(np.float64).copy()
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    rho_inf = 2.0 / (1.0 - beta_2) - 1.0
    modes = []
    for t, g in enumerate(grads, start=1):
        w = w - w * weight_decay * lr
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g * g
        m_hat = m / (1 - beta_1**t)
        rho_t = rho_inf - 2 * t * beta_2**t / (1 - beta_2**t)
        if rho_t > threshold:
            v_hat = np.sqrt(v / (1 - beta_2**t))
            r_t = math.sqrt(
                (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
            )
            w = w - lr * r_t * m_hat / (v_hat + eps)
            modes.append("adaptive")
        else:
            w = w - lr * m_hat
            modes.append("sgd")
    return w, modes


def test_radam_matches_paper_update_through_rectification_switch():
    rng = np.random.default_rng(0)
    w0 = rng.normal(size=(3, 4)).astype("float32")
    grads = [rng.normal(size=(3, 4)).astype("float32") for _ in range(9)]
    kw = {"beta_1": 0.9, "beta_2": 0.99, "epsilon": 1e-7}
    var = keras.Variable(w0)
    opt = RAdam(learning_rate=0.01, sma_threshold=5.0, weight_decay=0.1, **kw)
    for g in grads:
        opt.apply([keras.ops.convert_to_tensor(g)], [var])
    expected, modes = _numpy_radam(w0, grads, 0.01, 0.9, 0.99, 1e-7, 5.0, 0.1)
    # The run must cover both regimes for this test to mean anything.
    assert "sgd" in modes and "adaptive" in modes, modes
    np.testing.assert_allclose(keras.ops.convert_to_numpy(var), expected, rtol=2e-5, atol=2e-6)


def test_radam_first_step_is_plain_sgd_and_threshold_is_configurable():
    g = np.array([0.5, -2.0], dtype="float32")
    var = keras.Variable(np.zeros(2, dtype="float32"))
    RAdam(learning_rate=0.1).apply([keras.ops.convert_to_tensor(g)], [var])
    # t=1: m_hat == g and rho_1 = 1 < 5, so the step is exactly -lr * g.
    np.testing.assert_allclose(keras.ops.convert_to_numpy(var), -0.1 * g, rtol=1e-6)

    # With threshold 0 the first step is already the adaptive one: m_hat / sqrt(v_hat) is
    # sign(g) there, so both entries move by the same amount although |g| differs 4x.
    var2 = keras.Variable(np.zeros(2, dtype="float32"))
    RAdam(learning_rate=0.1, sma_threshold=0.0).apply([keras.ops.convert_to_tensor(g)], [var2])
    step = keras.ops.convert_to_numpy(var2)
    np.testing.assert_allclose(np.abs(step[0]), np.abs(step[1]), rtol=1e-5)
    assert np.all(np.sign(step) == -np.sign(g)) and np.abs(step[0]) > 0


def test_lookahead_syncs_every_k_steps():
    k, alpha, lr = 3, 0.5, 0.1
    g = np.array([1.0, -2.0], dtype="float32")
    w0 = np.array([0.3, 0.7], dtype="float32")
    var = keras.Variable(w0)
    opt = Lookahead(keras.optimizers.SGD(lr), sync_period=k, slow_step_size=alpha)
    seen = []
    for _ in range(2 * k):
        opt.apply([keras.ops.convert_to_tensor(g)], [var])
        seen.append(keras.ops.convert_to_numpy(var).copy())
    # Inside a window the fast weights move freely.
    np.testing.assert_allclose(seen[k - 2], w0 - (k - 1) * lr * g, rtol=1e-6)
    # At the sync: slow = w0 + alpha * (fast - w0); fast is reset to it.
    slow1 = w0 + alpha * ((w0 - k * lr * g) - w0)
    np.testing.assert_allclose(seen[k - 1], slow1, rtol=1e-6)
    slow2 = slow1 + alpha * ((slow1 - k * lr * g) - slow1)
    np.testing.assert_allclose(seen[2 * k - 1], slow2, rtol=1e-6)
    assert int(keras.ops.convert_to_numpy(opt.iterations)) == 2 * k


def test_schedule_values():
    sched = cosine_schedule(4e-3, total_steps=100, min_learning_rate=1e-6)
    at = lambda s: float(keras.ops.convert_to_numpy(sched(s)))  # noqa: E731
    assert at(0) == pytest.approx(4e-3)
    assert at(50) == pytest.approx((4e-3 + 1e-6) / 2, rel=1e-5)
    assert at(100) == pytest.approx(1e-6, rel=1e-4)
    assert at(500) == pytest.approx(1e-6, rel=1e-4)

    warm = cosine_schedule(1e-3, total_steps=110, warmup_steps=10, min_learning_rate=1e-5)
    at = lambda s: float(keras.ops.convert_to_numpy(warm(s)))  # noqa: E731
    assert at(0) == pytest.approx(1e-5)
    assert at(5) == pytest.approx((1e-3 + 1e-5) / 2, rel=1e-5)
    assert at(10) == pytest.approx(1e-3)
    assert at(60) == pytest.approx((1e-3 + 1e-5) / 2, rel=1e-5)
    assert at(110) == pytest.approx(1e-5, rel=1e-4)

    with pytest.raises(ValueError, match="warmup_steps"):
        cosine_schedule(1e-3, total_steps=10, warmup_steps=10)
    with pytest.raises(ValueError, match="min_learning_rate"):
        cosine_schedule(1e-3, total_steps=10, min_learning_rate=1e-2)


def test_build_optimizer_variants_and_config_round_trip():
    adamw = build_optimizer("adamw", learning_rate=1e-3, total_steps=10)
    assert isinstance(adamw, keras.optimizers.AdamW)
    ref = build_optimizer("radam_lookahead", learning_rate=4e-3, total_steps=10, sma_threshold=4.0)
    assert isinstance(ref, Lookahead) and isinstance(ref.inner_optimizer, RAdam)
    assert ref.inner_optimizer.weight_decay == pytest.approx(0.1)
    assert ref.inner_optimizer.sma_threshold == 4.0
    assert ref.sync_period == 5 and ref.slow_step_size == 0.5

    clone = keras.optimizers.deserialize(keras.optimizers.serialize(ref))
    assert isinstance(clone, Lookahead) and isinstance(clone.inner_optimizer, RAdam)
    assert clone.get_config()["sync_period"] == 5
    assert clone.inner_optimizer.get_config() == ref.inner_optimizer.get_config()

    with pytest.raises(ValueError, match="unknown name"):
        build_optimizer("sgd", learning_rate=1e-3, total_steps=10)


def _tiny_model(optimizer):
    keras.utils.set_random_seed(3)
    network = keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(4)]
    )
    # The trainer's set-up: the network inside AWPModel (AWP on, so its step is exercised too).
    model = AWPModel(network, awp_lambda=0.05, awp_enabled=True)
    model.compile(optimizer=optimizer, loss=SparseCategoricalCrossentropyWithSmoothing())
    return model


def test_optimizer_state_save_load_continues_identically(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(32, 6)).astype("float32")
    y = rng.integers(0, 4, size=32)

    def opt():
        return build_optimizer(
            "radam_lookahead", learning_rate=1e-2, total_steps=40, lookahead_sync_period=3
        )

    model = _tiny_model(opt())
    # 4 steps: stop in the middle of a Lookahead window so the slow weights matter.
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    path = tmp_path / "ckpt.weights.h5"
    model.save_weights(path)

    restored = _tiny_model(opt())
    restored.optimizer.build(restored.trainable_variables)
    restored.load_weights(path)
    assert int(keras.ops.convert_to_numpy(restored.optimizer.iterations)) == 4

    model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    restored.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), restored.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)

    # A model that only got the weights (fresh optimizer state) must diverge: state matters.
    fresh = _tiny_model(opt())
    fresh.set_weights(model.get_weights())
    fresh.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    pairs = zip(model.get_weights(), fresh.get_weights(), strict=True)
    diffs = [np.abs(a - b).max() for a, b in pairs]
    assert max(diffs) > 1e-5


def test_smoothed_sparse_crossentropy_matches_formula():
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(5, 7)).astype("float32")
    labels = rng.integers(0, 7, size=5)
    eps = 0.1
    target = np.full((5, 7), eps / 7)
    target[np.arange(5), labels] += 1 - eps
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    expected = -(target * log_p).sum(-1).mean()

    loss = SparseCategoricalCrossentropyWithSmoothing(label_smoothing=eps)
    got = loss(labels, logits)
    assert keras.backend.standardize_dtype(got.dtype) == "float32"
    assert float(got) == pytest.approx(expected, rel=1e-5)
    # [B, 1] labels and bf16 logits give the same value (computed in float32).
    got_b1 = loss(labels.reshape(-1, 1), keras.ops.cast(logits, "bfloat16"))
    assert keras.backend.standardize_dtype(got_b1.dtype) == "float32"
    assert float(got_b1) == pytest.approx(expected, rel=2e-2)

    clone = SparseCategoricalCrossentropyWithSmoothing.from_config(loss.get_config())
    assert float(clone(labels, logits)) == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="label_smoothing"):
        SparseCategoricalCrossentropyWithSmoothing(label_smoothing=1.5)


def test_the_optimizer_modules_keep_every_name_where_it_was() -> None:
    # conf/optim/*.yaml and the trainer reach them through islr.train.optimizers / islr.train.
    import islr.train
    import islr.train.optimizers as optimizers
    from islr.train.optimizers import factory, lookahead, radam, schedule

    assert optimizers.build_optimizer is factory.build_optimizer is islr.train.build_optimizer
    assert optimizers.Lookahead is lookahead.Lookahead and optimizers.RAdam is radam.RAdam
    assert optimizers.cosine_schedule is schedule.cosine_schedule
    assert optimizers.OPTIMIZER_NAMES == ("adamw", "radam_lookahead")
