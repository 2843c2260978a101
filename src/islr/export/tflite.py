"""SavedModel and TFLite conversion with the Kaggle signature, and a LiteRT runner.

Route (see the pitfalls notes): Keras model -> ``keras.export.ExportArchive`` SavedModel with a
``serving_default`` endpoint -> ``TFLiteConverter.from_saved_model`` restricted to
``TFLITE_BUILTINS``. ``from_concrete_functions`` silently writes wrong weights for Keras 3
models and is never used.
"""

from __future__ import annotations

import collections
import contextlib
import io
import os
import re
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # converter chatter; errors still show

import keras
import numpy as np
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

from islr.errors import ExportError
from islr.landmarks import N_LANDMARKS

SIGNATURE_KEY = "serving_default"
INPUT_NAME = "inputs"
OUTPUT_NAME = "outputs"
VARIANTS = ("fp32", "fp16", "dynamic")
"""TFLite variants: float32; float16 weights; dynamic-range int8 weights (float activations)."""


def write_saved_model(model: keras.Model, directory: str | Path) -> Path:
    """Write ``model`` as a SavedModel whose ``serving_default`` takes ``inputs`` ``[T, 543, 3]``.

    The endpoint returns ``{"outputs": scores}``, which yields the Kaggle signature after
    conversion.
    """
    if keras.backend.backend() != "tensorflow":
        raise ExportError(
            "SavedModel/TFLite export needs KERAS_BACKEND=tensorflow (current backend: "
            f"{keras.backend.backend()!r}); .keras networks trained under JAX export fine with it"
        )
    directory = Path(directory)
    archive = keras.export.ExportArchive()
    archive.track(model)

    def serve(inputs):  # the argument name becomes the signature's input name
        return {OUTPUT_NAME: model(inputs, training=False)}

    archive.add_endpoint(
        name=SIGNATURE_KEY,
        fn=serve,
        input_signature=[keras.InputSpec(shape=(None, N_LANDMARKS, 3), dtype="float32")],
    )
    archive.write_out(str(directory), verbose=False)
    return directory


def convert_saved_model(saved_model_dir: str | Path, variant: str) -> bytes:
    """Convert a SavedModel to a TFLite flatbuffer (``variant`` in :data:`VARIANTS`).

    Only TFLite builtin ops are allowed, so a graph that would need Flex (TF) ops fails here,
    at export time, not when Kaggle loads it.

    Raises:
        ValueError: unknown variant.
        ExportError: the conversion failed (message includes the converter's reason).
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown TFLite variant {variant!r}; choose from {VARIANTS}")
    converter = tf.lite.TFLiteConverter.from_saved_model(
        str(saved_model_dir), signature_keys=[SIGNATURE_KEY]
    )
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if variant in ("fp16", "dynamic"):
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if variant == "fp16":
        converter.target_spec.supported_types = [tf.float16]
    try:
        return converter.convert()
    except Exception as exc:  # the converter raises ConverterError and friends
        raise ExportError(
            f"TFLite conversion ({variant}) of {saved_model_dir} failed: {exc}"
        ) from exc


def tflite_op_counts(flatbuffer: bytes) -> collections.Counter[str]:
    """How many times each builtin op (``"FULLY_CONNECTED"``, ``"SHAPE"``, ...) occurs in a model.

    Read from TFLite's model analyzer, over all subgraphs.
    """
    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        tf.lite.experimental.Analyzer.analyze(model_content=flatbuffer)
    return collections.Counter(re.findall(r"Op#\d+ (\w+)\(", text.getvalue()))


class TFLiteRunner:
    """Run a ``.tflite`` model through its Kaggle signature with LiteRT.

    Exactly Kaggle's call: ``get_signature_runner("serving_default")(inputs=frames)["outputs"]``;
    the runner resizes the variable frame axis itself.

    Args:
        model: path to a ``.tflite`` file, or its bytes.
        num_threads: interpreter threads (1 matches Kaggle's scoring machine best).
    """

    def __init__(self, model: str | Path | bytes, num_threads: int | None = 1) -> None:
        if isinstance(model, bytes | bytearray):
            self.source = "<bytes>"
            self.interpreter = Interpreter(model_content=bytes(model), num_threads=num_threads)
        else:
            path = Path(model)
            if not path.is_file():
                raise FileNotFoundError(f"{path}: TFLite model not found")
            self.source = str(path)
            try:
                self.interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
            except ValueError as exc:
                raise ValueError(f"{path}: not a loadable TFLite model ({exc})") from exc
        signatures = self.interpreter.get_signature_list()
        if SIGNATURE_KEY not in signatures:
            raise ValueError(
                f"{self.source}: no {SIGNATURE_KEY!r} signature (found {sorted(signatures)})"
            )
        self.signature = signatures[SIGNATURE_KEY]
        self._runner = self.interpreter.get_signature_runner(SIGNATURE_KEY)

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        """Scores ``[C]`` for one video ``[T, 543, 3]``."""
        frames = np.ascontiguousarray(frames, dtype=np.float32)
        return np.asarray(self._runner(**{INPUT_NAME: frames})[OUTPUT_NAME], dtype=np.float32)
