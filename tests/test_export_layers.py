"""The export layers (raw-frame inference graph) under the Keras layer contract.

Their export behaviour (TFLite graph, parity) is tested in ``test_export.py``; here each class
goes through ``run_layer_test`` (tests/layer_test_case.py), so this module needs no TFLite.
"""

from __future__ import annotations

import numpy as np
import pytest

from islr.export.layers import AddBatchAxis, DropMask, EnsembleHead, LeadingFrames
from islr.landmarks import N_LANDMARKS
from layer_test_case import run_layer_test

B, T, C = 3, 7, 16
CLASSES = 6


def _cases() -> dict[str, tuple]:
    rng = np.random.default_rng(0)
    video = rng.uniform(0.2, 0.8, (T, N_LANDMARKS, 3)).astype(np.float32)  # [T, 543, 3]
    seq = rng.normal(size=(B, T, C)).astype(np.float32)
    mask = np.arange(T)[None, :] < np.array([7, 4, 1])[:, None]
    logits = [rng.normal(size=(1, CLASSES)).astype(np.float32) for _ in range(3)]
    return {
        # One video without a batch axis, as the Kaggle signature feeds it.
        "add_batch_axis": (
            AddBatchAxis,
            {},
            video,
            (1, T, N_LANDMARKS, 3),
            {"float32_by_default": True},
        ),
        # Consumes the padding mask: its output carries none.
        "drop_mask": (
            DropMask,
            {},
            seq,
            (B, T, C),
            {"mask": mask, "mask_passes": False, "dynamic_axes": (0, 1)},
        ),
        # Three networks' logits [1, C] -> one video's scores [C].
        "ensemble_logits": (
            EnsembleHead,
            {"output": "logits"},
            logits,
            (CLASSES,),
            {"float32_by_default": True},
        ),
        # A fixed [W, 543, 3] buffer and its real-frame count -> the first 5 frames.
        "leading_frames": (
            LeadingFrames,
            {},
            [video, np.array([5], dtype=np.int32)],
            (5, N_LANDMARKS, 3),
            {"float32_by_default": True, "dynamic_axes": (), "value_dependent_axes": (0,)},
        ),
        "ensemble_probabilities": (
            EnsembleHead,
            {"output": "probabilities"},
            logits[:1],
            (CLASSES,),
            {"float32_by_default": True},
        ),
    }


@pytest.mark.parametrize("name", sorted(_cases()))
def test_layer_contract(name: str, tmp_path) -> None:
    cls, kwargs, data, out_shape, options = _cases()[name]
    run_layer_test(cls, kwargs, data, out_shape, tmp_path=tmp_path, **options)


def test_ensemble_head_averages_logits_and_can_softmax() -> None:
    rng = np.random.default_rng(1)
    logits = [rng.normal(size=(1, CLASSES)).astype(np.float32) for _ in range(2)]
    mean = (logits[0] + logits[1])[0] / 2
    np.testing.assert_allclose(np.asarray(EnsembleHead(output="logits")(logits)), mean, atol=1e-6)
    probs = np.asarray(EnsembleHead(output="probabilities")(logits))
    np.testing.assert_allclose(probs, np.exp(mean) / np.exp(mean).sum(), atol=1e-6)
    with pytest.raises(ValueError, match="output"):
        EnsembleHead(output="votes")


def test_every_islr_layer_class_goes_through_run_layer_test() -> None:
    """A new layer in islr.model, islr.features or islr.export.layers needs a contract case."""
    import keras

    import islr.export.layers
    import islr.features
    import islr.model
    from test_features import _contract_cases
    from test_model_layers import CONTRACT

    public = {
        obj
        for module in (islr.model, islr.features, islr.export.layers)
        for obj in vars(module).values()
        if isinstance(obj, type) and issubclass(obj, keras.layers.Layer)
    }
    tested = {
        case[0] for cases in (CONTRACT, _contract_cases(), _cases()) for case in cases.values()
    }
    assert len(public) == 16
    assert public <= tested, sorted(c.__name__ for c in public - tested)
