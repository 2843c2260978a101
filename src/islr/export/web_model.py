"""The browser's model: a fixed frame window in, the Kaggle-contract model's scores out.

LiteRT.js checks input shapes on the JavaScript side and refuses the Kaggle model's variable
frame axis (``[-1, 543, 3]``) for every T. The web model takes a fixed window instead --
``frames [W, 543, 3]`` (the last W frames, padded at the end with anything) and
``length [1]`` (how many are real) -- and runs the unchanged inference model on
``frames[:length]`` (:class:`~islr.export.layers.LeadingFrames`), so its scores are those of
the Kaggle model on the real frames and the padding is never read. :func:`check_web_parity`
proves both on every export.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

import keras
import numpy as np
from ai_edge_litert.interpreter import Interpreter

from islr.export import tflite
from islr.export.layers import LeadingFrames
from islr.export.parity import ParityResult, check_parity
from islr.landmarks import N_LANDMARKS

__all__ = [
    "FRAMES_INPUT",
    "LENGTH_INPUT",
    "SCORES_OUTPUT",
    "WebModelRunner",
    "build_web_model",
    "check_web_parity",
    "convert_web_model",
    "pad_window",
]

FRAMES_INPUT = "frames"
LENGTH_INPUT = "length"
SCORES_OUTPUT = "scores"
LENGTH_DTYPE = "int32"


def build_web_model(inference_model: keras.Model, window: int) -> keras.Model:
    """Wrap an inference model (``[T, 543, 3] -> [C]``) into ``(frames [W,543,3], length [1])``.

    Args:
        inference_model: the raw-frame model of :func:`~islr.export.build_inference_model`.
        window: W, the frames the browser keeps (``islr-predict --stream --window``).

    Raises:
        ValueError: ``window < 1``.
    """
    if window < 1:
        raise ValueError(f"build_web_model: window must be >= 1, got {window}")
    frames = keras.Input(
        shape=(N_LANDMARKS, 3), batch_size=window, dtype="float32", name=FRAMES_INPUT
    )
    length = keras.Input(shape=(), batch_size=1, dtype=LENGTH_DTYPE, name=LENGTH_INPUT)
    real = LeadingFrames(name="leading_frames")([frames, length])
    return keras.Model([frames, length], inference_model(real), name="islr_web")


def _web_window(model: keras.Model) -> int:
    return int(model.inputs[0].shape[0])


def convert_web_model(web_model: keras.Model) -> bytes:
    """The web model as an fp32 TFLite flatbuffer with the signature ``(frames, length) -> scores``.

    Same route as the Kaggle model (:mod:`islr.export.tflite`): ``ExportArchive`` SavedModel,
    then the converter restricted to TFLite builtin ops. The SavedModel is temporary.
    """
    window = _web_window(web_model)
    archive = keras.export.ExportArchive()
    archive.track(web_model)

    def serve(frames, length):  # the argument names become the signature's input names
        return {SCORES_OUTPUT: web_model([frames, length], training=False)}

    archive.add_endpoint(
        name=tflite.SIGNATURE_KEY,
        fn=serve,
        input_signature=[
            keras.InputSpec(shape=(window, N_LANDMARKS, 3), dtype="float32"),
            keras.InputSpec(shape=(1,), dtype=LENGTH_DTYPE),
        ],
    )
    with tempfile.TemporaryDirectory(prefix="islr-web-saved-model-") as tmp:
        archive.write_out(tmp, verbose=False)
        return tflite.convert_saved_model(tmp, "fp32")


def pad_window(frames: np.ndarray, window: int, fill: float | np.ndarray = np.nan) -> np.ndarray:
    """The last ``window`` frames of ``frames``, padded at the end to exactly ``window`` frames.

    Args:
        frames: a video ``[T, 543, 3]``, ``T >= 1``.
        window: W.
        fill: the padding: a value, or an array broadcastable to ``[W - T', 543, 3]``
            (e.g. garbage, to show it is ignored).
    """
    clip = np.asarray(frames, dtype=np.float32)[-window:]
    out = np.empty((window, *clip.shape[1:]), dtype=np.float32)
    out[: len(clip)] = clip
    fill = np.asarray(fill, dtype=np.float32)
    out[len(clip) :] = fill if fill.ndim == 0 else fill[: window - len(clip)]
    return out


class WebModelRunner:
    """Run the web ``.tflite`` with LiteRT, as the browser does: one window per call.

    Args:
        model: path to the web ``.tflite`` or its bytes.
        num_threads: interpreter threads.
    """

    def __init__(self, model: str | Path | bytes, num_threads: int | None = 1) -> None:
        if isinstance(model, bytes | bytearray):
            self.interpreter = Interpreter(model_content=bytes(model), num_threads=num_threads)
        else:
            self.interpreter = Interpreter(model_path=str(model), num_threads=num_threads)
        self._runner = self.interpreter.get_signature_runner(tflite.SIGNATURE_KEY)
        details = self._runner.get_input_details()
        self.window = int(details[FRAMES_INPUT]["shape"][0])

    def __call__(self, frames: np.ndarray, fill: float | np.ndarray = np.nan) -> np.ndarray:
        """Scores ``[C]`` of the last ``window`` frames of ``frames`` (padding: ``fill``)."""
        count = min(len(frames), self.window)
        out = self._runner(
            **{
                FRAMES_INPUT: pad_window(frames, self.window, fill),
                LENGTH_INPUT: np.array([count], dtype=LENGTH_DTYPE),
            }
        )
        return np.asarray(out[SCORES_OUTPUT], dtype=np.float32)


def check_web_parity(
    keras_fn: Callable[[np.ndarray], np.ndarray],
    runner: WebModelRunner,
    inputs: Mapping[str, np.ndarray],
    tolerance: float,
    seed: int = 0,
) -> list[ParityResult]:
    """The web model must give the Kaggle model's scores on the window, whatever the padding.

    Each input's last ``window`` frames go to ``keras_fn`` (the reference) and, padded once
    with NaN and once with large random values and infinities, to the web model.

    Raises:
        ParityError: (variant ``web``) naming the input and padding that disagreed.
    """
    rng = np.random.default_rng(seed)
    garbage = rng.normal(0.0, 1e3, (runner.window, N_LANDMARKS, 3)).astype(np.float32)
    garbage[::3, ::7] = np.inf
    windows = {name: np.asarray(frames)[-runner.window :] for name, frames in inputs.items()}
    expected = {name: keras_fn(clip) for name, clip in windows.items()}
    results: list[ParityResult] = []
    for padding, fill in (("NaN", np.float32(np.nan)), ("garbage", garbage)):
        results += check_parity(
            keras_fn,
            lambda clip, fill=fill: runner(clip, fill),
            "web",
            {f"{name} ({padding} padding)": clip for name, clip in windows.items()},
            tolerance,
            expected={f"{name} ({padding} padding)": s for name, s in expected.items()},
        )
    return results
