"""Settings are stated once: the YAML files hold the values, the code takes required arguments.

A default in a builder's or a layer's signature would be a second copy of a value in
``conf/model/*.yaml`` or ``conf/export/*.yaml``, free to drift from it; these tests find any.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil

import keras

import islr.export.layers
import islr.model
from islr.config import MODEL_START_KEYS, group_config
from islr.export import ExportSettings, build_inference_model, export_models
from islr.model import apply_classifier, build_classifier, build_sign_model

# What the trainer passes to the model (from data.max_len, the sign map, the schedule).
FROM_TRAINER = {"max_len", "num_classes", "late_dropout_start_step"}
# Layer arguments that are no setting of any config: fixed parts of the architecture.
ARCHITECTURE = {"seed", "activation", "dilation_rate", "use_bias", "kernel_initializer"}
_VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def _parameters(fn) -> dict[str, inspect.Parameter]:
    params = inspect.signature(fn).parameters
    return {n: p for n, p in params.items() if n != "self" and p.kind not in _VARIADIC}


def _with_defaults(fn) -> set[str]:
    return {n for n, p in _parameters(fn).items() if p.default is not inspect.Parameter.empty}


def _group_keys(group: str, option: str) -> set[str]:
    return set(group_config(group, option)) - {"_target_"}


def _layers(package) -> list[type]:
    """Every keras layer class defined in a module of ``package`` with its own __init__."""
    found = []
    for info in pkgutil.iter_modules(package.__path__, f"{package.__name__}."):
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if (
                cls.__module__ == info.name
                and issubclass(cls, keras.layers.Layer)
                and "__init__" in vars(cls)
            ):
                found.append(cls)
    return found


def test_every_model_setting_is_a_required_argument_of_the_builders() -> None:
    # model.init_from says where the trainer takes the weights from: no builder's argument
    settings = (_group_keys("model", "reference") - set(MODEL_START_KEYS)) | FROM_TRAINER
    builders = (build_sign_model, apply_classifier)
    required = {n for fn in builders for n in _parameters(fn)} - {"features"}
    for fn in builders:
        required -= _with_defaults(fn)
    assert settings - required == set(), "model settings no builder takes as a required argument"
    for fn in (*builders, build_classifier):
        assert _with_defaults(fn) & settings == set(), f"{fn.__name__} has defaults for settings"


def test_model_layers_take_every_setting_without_a_default() -> None:
    layers = _layers(islr.model)
    names = {cls.__name__ for cls in layers}
    assert {"Conv1DBlock", "TransformerBlock", "MultiHeadSelfAttention", "LateDropout"} <= names
    for cls in layers:
        defaults = _with_defaults(cls.__init__) - ARCHITECTURE
        assert not defaults, f"{cls.__name__}.__init__ has defaults for {sorted(defaults)}"


def test_export_settings_are_the_export_group_without_defaults() -> None:
    fields = dataclasses.fields(ExportSettings)
    assert {f.name for f in fields} == _group_keys("export", "default")
    with_defaults = [
        f.name
        for f in fields
        if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
    ]
    assert with_defaults == []
    # export_models takes the group as one ExportSettings (and the destination its caller
    # resolved from export.out_dir), islr-export's own keys (conf/export.yaml: max_len,
    # sign_map) without defaults either.
    shared = _parameters(export_models).keys() & _group_keys("export", "default")
    assert shared == {"out_dir"}
    assert _with_defaults(export_models) == set()


def test_the_inference_model_takes_the_export_settings_without_defaults() -> None:
    settings = _group_keys("export", "default") | {"max_len", "sign_map"}
    assert _with_defaults(build_inference_model) & settings == set()
    layers = _layers(islr.export.layers)
    assert "EnsembleHead" in {cls.__name__ for cls in layers}
    for cls in layers:
        defaults = _with_defaults(cls.__init__) & settings
        assert not defaults, f"{cls.__name__}.__init__ has defaults for {sorted(defaults)}"


def test_web_settings_are_the_export_web_node_without_defaults() -> None:
    from islr.export.web_settings import WebSettings

    fields = dataclasses.fields(WebSettings)
    assert {f.name for f in fields} == set(group_config("export", "default").web)
    assert all(
        f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        for f in fields
    )
