"""Load trained networks and wrap them into the raw-frame inference model.

The inference model is the Kaggle contract in Keras form: one video ``[T, 543, 3]`` float32
(no batch axis, T variable, NaN where nothing was detected) -> ``[num_classes]`` scores.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np

from islr.export.layers import AddBatchAxis, DropMask, EnsembleHead
from islr.export.layers.ensemble_head import OUTPUT_KINDS
from islr.features import LandmarkFeatures, SelectLandmarks
from islr.landmarks import N_LANDMARKS, N_POINTS

# Importing islr.model registers its custom layers, so saved networks load.
from islr.model import load_network_file
from islr.run_layout import CHECKPOINT, RunLayout

log = logging.getLogger(__name__)

_HALF_POLICIES = ("mixed_float16", "mixed_bfloat16")


def resolve_network_path(source: str | Path) -> Path:
    """The ``.keras`` file behind ``source``: itself, or ``<run dir>/checkpoints/best.keras``.

    Raises:
        FileNotFoundError: naming the source and what was looked for.
    """
    path = Path(source)
    if path.is_dir():
        candidate = RunLayout(path).best
        if not candidate.is_file():
            raise FileNotFoundError(
                f"{path}: run directory has no {CHECKPOINT} (is it a finished training run?)"
            )
        return candidate
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such model file or run directory")
    if path.suffix != ".keras":
        raise ValueError(f"{path}: expected a .keras file or a run directory")
    return path


def load_network(source: str | Path) -> keras.Model:
    """Load a trained network (``.keras`` file or run directory) without its optimizer.

    Networks saved under the JAX backend load too: the ``.keras`` format is backend-neutral.
    """
    return load_network_file(resolve_network_path(source))


def _layers(model: keras.Model) -> Iterator[keras.layers.Layer]:
    """Every layer of ``model`` and of the models nested in it, through the public ``layers``.

    Sub-layers inside a custom layer (a Conv1DBlock's Dense, ...) are not listed: they are
    created from their parent's dtype policy, so the parent speaks for them.
    """
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from _layers(layer)


def is_mixed_precision(network: keras.Model) -> bool:
    """Whether any layer of ``network`` computes under a mixed (fp16/bf16) policy."""
    return any(layer.dtype_policy.name in _HALF_POLICIES for layer in (network, *_layers(network)))


def _rebuild(network: keras.Model, name: str | None, *, unmasked: bool) -> keras.Model:
    """Clone ``network`` with every layer rebuilt from its config in float32, copy the weights.

    With ``unmasked``, ``Masking`` becomes :class:`~islr.export.layers.DropMask` and no layer
    call gets a ``mask`` argument; the ops that computed the mask are then read by nothing and
    are left out of the clone's graph. Exact for inputs without padded frames (one video):
    their mask is all true. Public API only: ``keras.models.clone_model`` with a
    ``clone_function`` (which layer) and a ``call_function`` (how it is called).
    """
    changed = []

    def clone_layer(layer: Any) -> Any:
        if not isinstance(layer, keras.layers.Layer):
            return layer  # a keras.ops operation (the mask's NotEqual / Any): stateless
        half = layer.dtype_policy.name in _HALF_POLICIES
        changed.append(half)
        config = layer.get_config()
        if half:
            config["dtype"] = "float32"
        if unmasked and isinstance(layer, keras.layers.Masking):
            return DropMask(name=layer.name, dtype=config["dtype"])
        return type(layer).from_config(config)

    def call_unmasked(layer: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs.pop("mask", None)
        return layer(*args, **kwargs)

    clone = keras.models.clone_model(
        network,
        clone_function=clone_layer,
        call_function=call_unmasked if unmasked else None,
    )
    if any(changed):
        log.info("rebuilding %s in float32 (it was saved under a mixed policy)", network.name)
    clone = keras.Model(clone.input, clone.output, name=name or network.name)
    # Layer by layer, by name: independent of the order the clone lists its weights in.
    # Variables of a mixed network are float32 already.
    for layer in network.layers:
        if layer.weights:
            clone.get_layer(layer.name).set_weights(layer.get_weights())
    return clone


def float32_copy(network: keras.Model, name: str | None = None) -> keras.Model:
    """Rebuild ``network`` from its config in float32 (optionally renamed) and copy the weights.

    A network trained under a mixed policy would otherwise export Flex ops; renaming lets two
    networks with the same name sit in one ensemble graph.
    """
    return _rebuild(network, name, unmasked=False)


def inference_copy(network: keras.Model, name: str | None = None) -> keras.Model:
    """:func:`float32_copy` that also drops the padding mask (see :class:`DropMask`).

    For one unpadded video at a time, as in the inference model; a padded batch would give
    different results for its shorter sequences.
    """
    return _rebuild(network, name, unmasked=True)


def network_max_len(network: keras.Model) -> int | None:
    """``max_len`` of the network's :class:`LandmarkFeatures` (``None``: absent/unbounded)."""
    for layer in _layers(network):
        if isinstance(layer, LandmarkFeatures):
            return layer.max_len
    return None


def _check_network(network: keras.Model, index: int) -> int:
    shape = tuple(network.input_shape) if not isinstance(network.input_shape, list) else None
    if shape is None or len(shape) != 4 or tuple(shape[-2:]) != (N_POINTS, 3):
        raise ValueError(
            f"network {index} ({network.name}): expected input [batch, time, {N_POINTS}, 3], "
            f"got {network.input_shape}"
        )
    out = tuple(network.output_shape) if not isinstance(network.output_shape, list) else None
    if out is None or len(out) != 2 or out[-1] is None:
        raise ValueError(
            f"network {index} ({network.name}): expected output [batch, num_classes], "
            f"got {network.output_shape}"
        )
    return int(out[-1])


def build_inference_model(
    networks: Sequence[keras.Model], *, max_len: int | None, output: str
) -> keras.Model:
    """Wrap trained networks into one raw-frame model: ``[T, 543, 3] -> [num_classes]``.

    Graph: add a batch axis -> :class:`~islr.features.SelectLandmarks` -> every network (each
    truncates to its own ``max_len`` inside ``LandmarkFeatures``, after computing the
    normalisation statistics on the whole video) -> mean of the logits -> optional softmax.
    Every network is rebuilt in float32 from its config and weights (mixed-precision networks
    would export Flex ops), under a unique name ``network_<i>``, and without its padding mask
    (:func:`inference_copy`: one video has no padded frames).

    Args:
        networks: one or more networks ``[B, T, 118, 3] -> [B, C]`` (``build_sign_model``).
        max_len: expected ``LandmarkFeatures.max_len`` of every network; ``None`` accepts
            whatever they use. A mismatch raises, so an export cannot silently change the
            sequence length a model was trained on.
        output: ``"logits"`` (mean logits, what Kaggle scores) or ``"probabilities"``
            (softmax of the mean logits); ``export.output``.

    Raises:
        ValueError: no networks, wrong input/output shapes, differing class counts or
            ``max_len`` mismatch.
    """
    if not networks:
        raise ValueError("build_inference_model: at least one network is required")
    if output not in OUTPUT_KINDS:
        raise ValueError(f"build_inference_model: output must be one of {OUTPUT_KINDS}")
    classes = [_check_network(net, i) for i, net in enumerate(networks)]
    if len(set(classes)) != 1:
        raise ValueError(f"build_inference_model: networks disagree on num_classes: {classes}")
    if max_len is not None:
        for i, net in enumerate(networks):
            own = network_max_len(net)
            if own is not None and own != max_len:
                raise ValueError(
                    f"network {i} ({net.name}) truncates to max_len={own}, expected {max_len}"
                )
    copies = [inference_copy(net, name=f"network_{i}") for i, net in enumerate(networks)]

    frames = keras.Input(shape=(N_LANDMARKS, 3), dtype="float32", name="inputs")
    batch = AddBatchAxis(name="add_batch_axis")(frames)
    points = SelectLandmarks(name="select_landmarks")(batch)
    logits = [net(points) for net in copies]
    scores = EnsembleHead(output=output, name="ensemble_head")(logits)
    return keras.Model(frames, scores, name="islr_inference")


def inference_max_len(model: keras.Model) -> int | None:
    """Largest ``max_len`` among the networks inside an inference model (``None``: unbounded)."""
    lengths = [layer.max_len for layer in _layers(model) if isinstance(layer, LandmarkFeatures)]
    if not lengths or any(n is None for n in lengths):
        return None
    return max(lengths)


def is_inference_model(model: keras.Model) -> bool:
    """Whether ``model`` takes raw frames ``[T, 543, 3]`` (rather than ``[B, T, 118, 3]``)."""
    shape = model.input_shape
    return not isinstance(shape, list) and tuple(shape[-2:]) == (N_LANDMARKS, 3) and len(shape) == 3


def run_keras(model: keras.Model, frames: np.ndarray) -> np.ndarray:
    """Scores of an inference model for one video ``[T, 543, 3]`` as float32 numpy ``[C]``.

    Calls the model directly: ``predict`` would split the frame axis into batches.
    """
    out = model(np.asarray(frames, dtype=np.float32), training=False)
    return np.asarray(keras.ops.convert_to_numpy(out), dtype=np.float32)
