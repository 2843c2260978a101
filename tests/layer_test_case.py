"""One keras-hub-style contract test for every islr Keras layer: :func:`run_layer_test`.

Each layer class gets one call (per interesting input shape) from its own test module
(``test_model_layers.py``, ``test_features.py``, ``test_export_layers.py``). The checks:

1. **config**: ``get_config()`` names every constructor argument; ``from_config`` and
   ``serialize_keras_object`` / ``deserialize_keras_object`` (through JSON) give the same config;
2. **build**: ``build(input_shape)`` creates the expected numbers of trainable and
   non-trainable weights (and non-trainable variables: seed-generator states included);
3. **symbolic call** on ``KerasTensor`` inputs: built, same weight counts, output shape equal
   to ``compute_output_shape``, expected output dtype;
4. **eager call**: the expected concrete shape and dtype, finite values, ``compute_mask``
   passes the mask on or consumes it as declared, and a layer rebuilt from the config with
   the same weights gives the same outputs;
5. **fit**: one ``fit`` step in a functional model changes trainable weights and, where the
   layer has any, non-trainable state (BN statistics, step counters); run when the layer has
   trainable weights, or when asked;
6. **precision**: under ``mixed_float16`` and ``mixed_bfloat16``, requested per layer
   (``dtype=``) and set globally: the output dtype (the policy's compute dtype, or float32 for
   layers that keep float32 unless asked otherwise), float32 variables, sub-layers that
   follow the layer's policy;
7. **.keras round trip**: a functional model holding the layer is saved and loaded and gives
   the same outputs.

Inputs may be a single array of any rank (e.g. raw frames ``[T, 543, 3]``) or a list of
arrays. ``mask`` (``[B, T]`` bool) marks real steps of a ``[B, T, C]`` input: eager calls get
it as ``mask=``, functional models recreate it with ``Masking(PAD_VALUE)`` on padded inputs.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np

from islr.landmarks import PAD_VALUE

MIXED_POLICIES = ("mixed_float16", "mixed_bfloat16")


def to_numpy(x: Any) -> np.ndarray:
    """A backend tensor (or array) as a NumPy array."""
    return np.asarray(keras.ops.convert_to_numpy(x))


def _as_list(x: Any) -> list[Any]:
    return list(x) if isinstance(x, list | tuple) else [x]


def _shape(x: Any) -> Any:
    """Shape tuple of an array, or a list of them for list inputs."""
    if isinstance(x, list | tuple):
        return [tuple(i.shape) for i in x]
    return tuple(x.shape)


def _dtype(x: Any) -> str:
    return keras.backend.standardize_dtype(x.dtype)


def _call(layer: keras.layers.Layer, x: Any, mask: np.ndarray | None, **kwargs: Any) -> Any:
    """Call ``layer`` eagerly, passing ``mask`` where its ``call`` takes one."""
    if mask is not None and "mask" in inspect.signature(layer.call).parameters:
        kwargs["mask"] = mask
    return layer(x, **kwargs)


def _padded(x: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """``x`` with ``PAD_VALUE`` in every channel of the masked-out steps."""
    if mask is None:
        return x
    return np.where(mask[..., None], x, PAD_VALUE).astype(x.dtype)


def _functional(layer: keras.layers.Layer, data: Any, masked: bool) -> keras.Model:
    """``Input(s) [-> Masking] -> layer`` as a functional model (no batch axis assumed)."""
    inputs = [
        keras.Input(batch_shape=(None, *a.shape[1:]), dtype=str(a.dtype)) for a in _as_list(data)
    ]
    x = inputs if isinstance(data, list | tuple) else inputs[0]
    if masked:
        x = keras.layers.Masking(PAD_VALUE)(x)
    return keras.Model(inputs if isinstance(data, list | tuple) else inputs[0], layer(x))


def _sublayers(layer: keras.layers.Layer) -> list[keras.layers.Layer]:
    """Layers held as attributes of ``layer``, recursively (public attributes only)."""
    found: list[keras.layers.Layer] = []
    for value in vars(layer).values():
        if isinstance(value, keras.layers.Layer) and value is not layer:
            found += [value, *_sublayers(value)]
    return found


def _check_config(cls: type, layer: keras.layers.Layer) -> dict[str, Any]:
    config = layer.get_config()
    if "__init__" in vars(cls):
        params = set(inspect.signature(cls.__init__).parameters) - {"self", "kwargs"}
        missing = params - set(config)
        assert not missing, f"{cls.__name__}.get_config() misses {sorted(missing)}"
    as_json = json.dumps(config, sort_keys=True)
    revived = cls.from_config(config)
    assert json.dumps(revived.get_config(), sort_keys=True) == as_json, "from_config round trip"
    serialized = json.loads(json.dumps(keras.saving.serialize_keras_object(layer)))
    restored = keras.saving.deserialize_keras_object(serialized)
    assert type(restored) is cls
    assert json.dumps(restored.get_config(), sort_keys=True) == as_json, "serialize round trip"
    return config


def _check_weights(layer: keras.layers.Layer, trainable: int, non_trainable: int, nt_vars: int):
    assert layer.built, f"{type(layer).__name__} is not built"
    name = type(layer).__name__
    assert len(layer.trainable_weights) == trainable, (
        f"{name}: {len(layer.trainable_weights)} trainable weights, expected {trainable}"
    )
    assert len(layer.non_trainable_weights) == non_trainable, (
        f"{name}: {len(layer.non_trainable_weights)} non-trainable weights, "
        f"expected {non_trainable}"
    )
    assert len(layer.non_trainable_variables) == nt_vars, (
        f"{name}: {len(layer.non_trainable_variables)} non-trainable variables, expected {nt_vars}"
    )


def _check_fit(cls: type, init_kwargs: dict, data: Any, mask: np.ndarray | None) -> None:
    layer = cls(**init_kwargs)
    model = _functional(layer, data, masked=mask is not None)
    if not layer.trainable_weights:  # something to train, so that fit runs a real step
        model = keras.Model(model.input, keras.layers.Dense(1)(model.output))
    x = _padded(data, mask) if mask is not None else data
    target = to_numpy(model(x, training=False))
    target = np.where(target == PAD_VALUE, target, target + 1.0).astype("float32")
    model.compile(keras.optimizers.SGD(0.1), "mse")
    before = [to_numpy(w).copy() for w in layer.weights]
    batch = len(_as_list(x)[0])
    history = model.fit(x, target, batch_size=batch, epochs=1, shuffle=False, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    after = [to_numpy(w) for w in layer.weights]
    for kind in ("trainable", "non-trainable"):
        moved = [
            not np.allclose(a, b)
            for a, b, w in zip(after, before, layer.weights, strict=True)
            if w.trainable == (kind == "trainable")
        ]
        # Gradients reach the weights; BN statistics / step counters advance in training.
        assert not moved or any(moved), f"{cls.__name__}: fit changed no {kind} weight"


def _check_precision(
    cls: type, init_kwargs: dict, data: Any, mask: np.ndarray | None, float32_by_default: bool
) -> None:
    for policy_name in MIXED_POLICIES:
        policy = keras.dtype_policies.get(policy_name)
        half = policy.compute_dtype
        # Requested per layer: always honoured.
        layer = cls(**{**init_kwargs, "dtype": policy_name})
        out = _call(layer, data, mask)
        assert layer.compute_dtype == half, f"{cls.__name__}(dtype={policy_name})"
        assert _dtype(out) == half, f"{cls.__name__}(dtype={policy_name}) returned {_dtype(out)}"
        assert all(_dtype(v) in ("float32", "int32", "uint32") for v in layer.weights)
        for sub in _sublayers(layer):
            assert sub.dtype_policy.name == policy_name, (
                f"{cls.__name__}: sub-layer {sub.name} runs under {sub.dtype_policy.name}"
            )
        assert np.all(np.isfinite(to_numpy(keras.ops.cast(out, "float32"))))
        # Set globally: followed, except by layers that keep float32 unless asked.
        previous = keras.config.dtype_policy()
        keras.config.set_dtype_policy(policy_name)
        try:
            layer = cls(**init_kwargs)
            out = _call(layer, data, mask)
        finally:
            keras.config.set_dtype_policy(previous)
        want = "float32" if float32_by_default else half
        assert _dtype(out) == want, f"{cls.__name__} under global {policy_name}: {_dtype(out)}"
        assert all(_dtype(v) in ("float32", "int32", "uint32") for v in layer.weights)


def _check_saving(
    cls: type, init_kwargs: dict, data: Any, mask: np.ndarray | None, tmp_path: Path
) -> None:
    layer = cls(**init_kwargs)
    model = _functional(layer, data, masked=mask is not None)
    x = _padded(data, mask) if mask is not None else data
    expected = to_numpy(model(x, training=False))
    path = tmp_path / f"{cls.__name__}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)  # safe_mode: no Lambda layers anywhere
    assert any(type(lyr) is cls for lyr in loaded.layers)
    np.testing.assert_allclose(to_numpy(loaded(x, training=False)), expected, atol=1e-6)


def run_layer_test(
    cls: type[keras.layers.Layer],
    init_kwargs: dict[str, Any],
    input_data: np.ndarray | Sequence[np.ndarray],
    expected_output_shape: tuple[int | None, ...],
    *,
    tmp_path: Path,
    mask: np.ndarray | None = None,
    dynamic_axes: tuple[int, ...] = (0,),
    mask_passes: bool | None = None,
    expected_num_trainable_weights: int = 0,
    expected_num_non_trainable_weights: int = 0,
    expected_num_non_trainable_variables: int | None = None,
    expected_output_dtype: str = "float32",
    float32_by_default: bool = False,
    run_training_check: bool | None = None,
    run_precision_checks: bool = True,
    run_saving_check: bool = True,
    value_dependent_axes: tuple[int, ...] = (),
) -> None:
    """Run the Keras layer contract (module docstring) on ``cls(**init_kwargs)``.

    Args:
        cls: the layer class.
        init_kwargs: constructor arguments.
        input_data: a float32 array (any rank) or a list of arrays; axis 0 is what ``fit``
            batches over.
        expected_output_shape: shape of the eager output for ``input_data``.
        tmp_path: folder for the ``.keras`` file.
        mask: optional ``[B, T]`` real-step mask for a ``[B, T, C]`` input.
        dynamic_axes: input axes left unknown (``None``) in the symbolic call.
        mask_passes: with ``mask``: ``True`` if ``compute_mask`` returns it unchanged,
            ``False`` if the layer consumes it (returns ``None``); ``None`` skips the check.
        expected_num_trainable_weights: after build.
        expected_num_non_trainable_weights: after build.
        expected_num_non_trainable_variables: after build, seed-generator states included
            (default: the number of non-trainable weights).
        expected_output_dtype: dtype of the output under the float32 policy.
        float32_by_default: the layer computes in float32 under a global mixed policy unless
            a dtype is requested for it.
        run_training_check: run the fit step (default: when there are trainable weights).
        run_precision_checks: run the mixed-precision checks.
        run_saving_check: run the ``.keras`` round trip.
        value_dependent_axes: output axes whose size depends on the input's values (not
            its shape): ``compute_output_shape`` must declare them unknown (``None``).
    """
    if expected_num_non_trainable_variables is None:
        expected_num_non_trainable_variables = expected_num_non_trainable_weights
    counts = (
        expected_num_trainable_weights,
        expected_num_non_trainable_weights,
        expected_num_non_trainable_variables,
    )
    keras.config.set_dtype_policy("float32")

    # 1. config
    _check_config(cls, cls(**init_kwargs))

    # 2. build from the input shape
    layer = cls(**init_kwargs)
    layer.build(_shape(input_data))
    _check_weights(layer, *counts)

    # 3. symbolic call (the dynamic axes unknown)
    layer = cls(**init_kwargs)
    symbolic_in = [
        keras.KerasTensor(
            tuple(None if i in dynamic_axes else n for i, n in enumerate(a.shape)),
            dtype=str(a.dtype),
        )
        for a in _as_list(input_data)
    ]
    symbolic_arg = symbolic_in if isinstance(input_data, list | tuple) else symbolic_in[0]
    symbolic = layer(symbolic_arg)
    _check_weights(layer, *counts)
    in_shapes = [tuple(t.shape) for t in symbolic_in]
    declared = layer.compute_output_shape(
        in_shapes if isinstance(input_data, list | tuple) else in_shapes[0]
    )
    assert tuple(symbolic.shape) == tuple(declared), (tuple(symbolic.shape), tuple(declared))
    assert _dtype(symbolic) == expected_output_dtype

    # 4. eager call, mask, rebuilt-from-config twin
    layer = cls(**init_kwargs)
    out = _call(layer, input_data, mask)
    _check_weights(layer, *counts)
    assert tuple(out.shape) == tuple(expected_output_shape), tuple(out.shape)
    declared_shape = tuple(
        None if i in value_dependent_axes else n for i, n in enumerate(expected_output_shape)
    )
    assert tuple(layer.compute_output_shape(_shape(input_data))) == declared_shape
    assert _dtype(out) == expected_output_dtype, _dtype(out)
    values = to_numpy(out)
    assert np.all(np.isfinite(values[values != PAD_VALUE]))
    if mask is not None and mask_passes is not None:
        assert layer.supports_masking
        out_mask = layer.compute_mask(input_data, mask)
        if mask_passes:
            np.testing.assert_array_equal(to_numpy(out_mask), mask)
        else:
            assert out_mask is None
    twin = cls.from_config(layer.get_config())
    _call(twin, input_data, mask)
    twin.set_weights(layer.get_weights())
    np.testing.assert_allclose(to_numpy(_call(twin, input_data, mask)), values, atol=1e-6)

    # 5. one fit step
    if run_training_check is None:
        run_training_check = expected_num_trainable_weights > 0
    if run_training_check:
        _check_fit(cls, init_kwargs, input_data, mask)

    # 6. mixed precision
    if run_precision_checks:
        _check_precision(cls, init_kwargs, input_data, mask, float32_by_default)

    # 7. .keras round trip
    if run_saving_check:
        _check_saving(cls, init_kwargs, input_data, mask, tmp_path)
