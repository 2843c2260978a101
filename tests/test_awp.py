"""Adversarial weight perturbation: AWPModel train steps and AWPSchedule (TF and JAX)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from islr.train.awp import AWPModel, AWPSchedule

# The train-step tests run under TensorFlow and JAX (`make test` reruns `backend` tests under
# JAX); argument validation is backend-independent and runs once.
backend = pytest.mark.backend

LR = 0.1


def _linear_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 3)).astype("float32")
    y = rng.normal(size=(8, 2)).astype("float32")
    w0 = rng.normal(size=(3, 2)).astype("float32")
    return x, y, w0


def _linear_awp_model(w0, awp_lambda):
    network = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, use_bias=False)])
    network.layers[0].kernel.assign(w0)
    model = AWPModel(network, awp_lambda=awp_lambda)
    model.compile(optimizer=keras.optimizers.SGD(LR), loss="mse")
    return model


def _mse_grad(w, x, y):
    return 2.0 * x.T @ (x @ w - y) / y.size


def _plain_step(w, x, y):
    return w - LR * _mse_grad(w, x, y)


def _awp_step(w, x, y, lam):
    g = _mse_grad(w, x, y)
    w_adv = w + lam * g / np.linalg.norm(g)
    return w - LR * _mse_grad(w_adv, x, y)


def _kernel(model):
    return keras.ops.convert_to_numpy(model.network.layers[0].kernel).astype(np.float64)


@backend
def test_awp_step_matches_hand_computed_update():
    x, y, w0 = _linear_data()
    model = _linear_awp_model(w0, awp_lambda=0.5)
    model.set_awp_enabled(True)
    model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    w = w0.astype(np.float64)
    expected = _awp_step(_awp_step(w, x, y, 0.5), x, y, 0.5)
    # The perturbation is large enough to change the result visibly.
    assert np.abs(expected - _plain_step(_plain_step(w, x, y), x, y)).max() > 1e-2
    np.testing.assert_allclose(_kernel(model), expected, rtol=1e-5, atol=1e-6)


@backend
@pytest.mark.parametrize(("start_epoch", "initial_epoch"), [(1, 0), (2, 0), (1, 2)])
def test_awp_schedule_switches_at_start_epoch(start_epoch, initial_epoch):
    x, y, w0 = _linear_data()
    model = _linear_awp_model(w0, awp_lambda=0.5)
    flags = []
    probe = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: flags.append(model.awp_enabled)
    )
    model.fit(
        x,
        y,
        batch_size=8,
        epochs=initial_epoch + 3,
        initial_epoch=initial_epoch,
        shuffle=False,
        verbose=0,
        callbacks=[AWPSchedule(start_epoch), probe],
    )
    epochs = range(initial_epoch, initial_epoch + 3)
    assert flags == [e >= start_epoch for e in epochs]
    # The weights prove the compiled step really changed (not just the flag).
    w = w0.astype(np.float64)
    for e in epochs:
        w = _awp_step(w, x, y, 0.5) if e >= start_epoch else _plain_step(w, x, y)
    np.testing.assert_allclose(_kernel(model), w, rtol=1e-5, atol=1e-6)


def _bn_dropout_network():
    return keras.Sequential(
        [
            keras.Input((5,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.BatchNormalization(momentum=0.5),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(3),
        ]
    )


@backend
def test_awp_lambda_zero_and_disabled_equal_plain_training():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(16, 5)).astype("float32")
    y = rng.integers(0, 3, size=16)

    def train(wrap, awp_enabled=False):
        keras.utils.set_random_seed(7)
        network = _bn_dropout_network()
        model = AWPModel(network, awp_lambda=0.0, awp_enabled=awp_enabled) if wrap else network
        model.compile(
            optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        history = model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
        return network, history.history

    plain_net, plain_hist = train(wrap=False)
    for awp_enabled in (False, True):
        awp_net, awp_hist = train(wrap=True, awp_enabled=awp_enabled)
        # Same weights, BatchNorm statistics and RNG state (non-trainables) and the same logs.
        for a, b in zip(plain_net.weights, awp_net.weights, strict=True):
            np.testing.assert_allclose(
                keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b), rtol=1e-5, atol=1e-6
            )
        for key in ("loss", "accuracy"):
            np.testing.assert_allclose(plain_hist[key], awp_hist[key], rtol=1e-5)


@backend
def test_awp_keeps_first_pass_non_trainable_updates():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(8, 5)).astype("float32")
    y = rng.integers(0, 3, size=8)

    def train(awp_lambda, enabled):
        keras.utils.set_random_seed(5)
        network = _bn_dropout_network()
        model = AWPModel(network, awp_lambda=awp_lambda, awp_enabled=enabled)
        model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")
        # With lr=0 the weights never move, so the BN statistics after one step are those of
        # the forward pass at theta -- unless the perturbed pass leaked into them.
        model.fit(x, keras.ops.one_hot(y, 3), batch_size=8, epochs=1, verbose=0)
        bn = network.layers[1]
        return keras.ops.convert_to_numpy(bn.moving_mean), _kernel_of(network)

    mean_plain, k_plain = train(0.0, False)
    mean_awp, k_awp = train(5.0, True)
    np.testing.assert_allclose(mean_awp, mean_plain, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(k_awp, k_plain)  # theta restored exactly


def _kernel_of(network):
    return keras.ops.convert_to_numpy(network.layers[0].kernel)


@backend
def test_awp_model_config_round_trip():
    network = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model = AWPModel(network, awp_lambda=0.3)
    clone = AWPModel.from_config(model.get_config())
    assert clone.awp_lambda == 0.3 and not clone.awp_enabled
    clone.set_weights(model.get_weights())
    x = np.ones((2, 3), dtype="float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(clone(x)), keras.ops.convert_to_numpy(model(x)), rtol=1e-6
    )
    assert AWPSchedule(**AWPSchedule(4).get_config()).start_epoch == 4


def test_awp_arguments_are_validated():
    network = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="awp_lambda"):
        AWPModel(network, awp_lambda=-1.0)
    with pytest.raises(ValueError, match="start_epoch"):
        AWPSchedule(-1)
