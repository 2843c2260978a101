"""The features layers must convert to TFLite with builtin ops only (TensorFlow backend)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from feature_reference import reference_features
from islr.features import LandmarkFeatures, SelectLandmarks
from islr.landmarks import N_LANDMARKS, REFERENCE_LANDMARK

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="TFLite conversion needs the TF backend"
)


def _to_tflite(tmp_path) -> bytes:
    """Kaggle-shaped graph ``[T, 543, 3] -> [T', 708]`` converted via a SavedModel."""
    import tensorflow as tf

    frames = keras.Input(shape=(N_LANDMARKS, 3), batch_size=None, name="frames")  # [T, 543, 3]
    x = keras.ops.expand_dims(frames, 0)
    x = SelectLandmarks()(x)
    x = LandmarkFeatures(max_len=384)(x)  # the recipe's data.max_len
    model = keras.Model(frames, x)
    saved = tmp_path / "saved_model"
    model.export(str(saved), format="tf_saved_model", verbose=False)
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved))
    # Builtins only: any Flex op makes the conversion itself fail here.
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    return converter.convert()


def test_tflite_builtins_match_oracle(tmp_path) -> None:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=_to_tflite(tmp_path))
    runner = interpreter.get_signature_runner("serving_default")
    (in_name,) = runner.get_input_details()
    (out_name,) = runner.get_output_details()
    rng = np.random.default_rng(0)
    for t in (1, 2, 3, 50, 400):
        x = rng.uniform(0.2, 0.8, (1, N_LANDMARKS, 3)) + rng.normal(0, 0.05, (t, N_LANDMARKS, 3))
        x = x.astype(np.float32)
        x[rng.random(t) < 0.3, 468:489] = np.nan  # flickering left hand
        x[:, 522:543] = np.nan  # right hand never seen
        if t == 3:
            x[:] = np.nan  # nothing seen at all: all zeros, no NaN/inf
        if t == 50:
            x[:, REFERENCE_LANDMARK] = np.nan
            x[10] = np.nan
        got = runner(**{in_name: x})[out_name]
        want = reference_features(x, max_len=384)
        assert got.shape == (1, min(t, 384), 708), t
        np.testing.assert_allclose(got[0], want, rtol=1e-5, atol=1e-5, err_msg=f"T={t}")
