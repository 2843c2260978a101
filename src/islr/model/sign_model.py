"""THE islr model: raw selected landmarks -> 708 features -> classifier logits."""

from __future__ import annotations

from typing import Any

import keras

from islr.features import LandmarkFeatures
from islr.landmarks import N_FEATURES, N_POINTS
from islr.model.classifier import apply_classifier


def build_sign_model(*, max_len: int | None, name: str, **classifier_kwargs: Any) -> keras.Model:
    """Build the end-to-end model that training saves and export wraps.

    Input ``[B, T, 118, 3]``: the selected points (``landmarks.POINT_INDICES``) of each frame,
    padded at the end of time with ``PAD_VALUE`` (-100) in every value. ``LandmarkFeatures``
    normalises them, keeps the first ``max_len`` frames and builds the 708 features; the
    classifier of :func:`build_classifier` turns those into float32 ``[B, num_classes]`` logits.

    Args:
        max_len: frames kept per sequence (``None``: all); the trainer passes ``data.max_len``.
        name: model name.
        **classifier_kwargs: every argument of :func:`islr.model.apply_classifier` (all
            required; ``conf/model/*.yaml`` holds their values).
    """
    input_dim = classifier_kwargs.pop("input_dim", N_FEATURES)
    if input_dim != N_FEATURES:
        raise ValueError(
            f"build_sign_model: input_dim is fixed to {N_FEATURES} by the features, "
            f"got {input_dim!r}"
        )
    inputs = keras.Input(shape=(None, N_POINTS, 3), name="landmarks")
    features = LandmarkFeatures(max_len, name="features")(inputs)
    logits = apply_classifier(features, **classifier_kwargs)
    return keras.Model(inputs, logits, name=name)
