"""Starting a network from another one's weights: the backbone whole, the head by class.

Weights are matched by their path (``stack0_conv0/expand/kernel``: the layer names of
:func:`islr.model.apply_classifier` are fixed, so two networks of the same architecture name
every weight alike) and must have the same shape. The classifier head (the ``logits`` Dense)
is the one part allowed to differ: its last axis has one entry per class, so a network for
another vocabulary takes the source's kernel columns and biases class by class, wherever the
caller's ``class_rows`` say which source class a target class is; its other classes keep
their fresh initialisation.

Integer state (:class:`~islr.model.LateDropout`'s step counter) is not copied: it counts the
training steps of the run that owns it, and a new run starts counting from zero.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import keras
import numpy as np

from islr.model.classifier import HEAD_LAYER

__all__ = ["BackboneMismatchError", "WeightTransfer", "transfer_weights"]


class BackboneMismatchError(ValueError):
    """The source network's weights do not fit the target's outside the head.

    Attributes:
        layer: the first layer (in the target's order) whose weights do not fit.
        weight: the path of the weight that does not fit.
        source_shape: its shape in the source (None: the source has no such weight).
        target_shape: its shape in the target (None: the target has no such weight).
    """

    def __init__(
        self,
        weight: str,
        source_shape: tuple[int, ...] | None,
        target_shape: tuple[int, ...] | None,
    ) -> None:
        self.weight = weight
        self.layer = weight.split("/", 1)[0]
        self.source_shape = source_shape
        self.target_shape = target_shape
        if source_shape is None:
            detail = f"weight {weight} {target_shape} is not in the source network"
        elif target_shape is None:
            detail = f"the source's weight {weight} {source_shape} has no place in this network"
        else:
            detail = (
                f"weight {weight} has shape {source_shape} in the source "
                f"but {target_shape} in this network"
            )
        super().__init__(f"layer {self.layer!r}: {detail}")


@dataclass(frozen=True)
class WeightTransfer:
    """What :func:`transfer_weights` copied.

    Attributes:
        copied: paths of the weights copied whole (the backbone, and the head when the
            vocabularies are the same).
        head_classes_copied: target classes whose head column and bias came from the source.
        head_classes_new: target classes left at their fresh initialisation.
        left_fresh: paths of the integer state left at its initial value.
    """

    copied: tuple[str, ...]
    head_classes_copied: int
    head_classes_new: int
    left_fresh: tuple[str, ...]


def _is_head(path: str) -> bool:
    return path.split("/", 1)[0] == HEAD_LAYER


def _is_counter(variable: keras.Variable) -> bool:
    return not np.issubdtype(np.dtype(keras.backend.standardize_dtype(variable.dtype)), np.floating)


def _same_classes(class_rows: Mapping[int, int], n_source: int, n_target: int) -> bool:
    return n_source == n_target and all(class_rows.get(i) == i for i in range(n_target))


def transfer_weights(
    source: keras.Model, target: keras.Model, class_rows: Mapping[int, int]
) -> WeightTransfer:
    """Copy ``source``'s weights into ``target``: the backbone whole, the head per class.

    Every float weight outside the head must exist in both networks with the same shape;
    nothing is assigned unless all of them do.

    Args:
        source: the trained network.
        target: the freshly built network to start from it (modified in place).
        class_rows: target class index -> source class index, for each class both networks
            know (the signs both vocabularies share). Target classes not in it keep their
            fresh head weights.

    Raises:
        BackboneMismatchError: the first weight (in ``target``'s order, then any the source
            has beyond it) that is missing on one side or differs in shape.
        ValueError: ``class_rows`` names a class either head does not have.
    """
    source_weights = {w.path: w for w in source.weights}
    target_paths = {w.path for w in target.weights}
    plan: list[tuple[keras.Variable, keras.Variable]] = []
    head: list[tuple[keras.Variable, keras.Variable]] = []
    fresh: list[str] = []
    for weight in target.weights:
        if _is_counter(weight):
            fresh.append(weight.path)
            continue
        found = source_weights.get(weight.path)
        target_shape = tuple(weight.shape)
        if found is None:
            raise BackboneMismatchError(weight.path, None, target_shape)
        source_shape = tuple(found.shape)
        if _is_head(weight.path) and source_shape[:-1] == target_shape[:-1]:
            head.append((found, weight))  # classes on the last axis: may differ in number
        elif source_shape != target_shape:
            raise BackboneMismatchError(weight.path, source_shape, target_shape)
        else:
            plan.append((found, weight))
    for path, weight in source_weights.items():
        if path not in target_paths and not _is_counter(weight):
            raise BackboneMismatchError(path, tuple(weight.shape), None)

    n_target = int(target.output_shape[-1])
    n_source = int(source.output_shape[-1])
    bad = {t: s for t, s in class_rows.items() if not (0 <= t < n_target and 0 <= s < n_source)}
    if bad:
        raise ValueError(
            f"class_rows: {sorted(bad.items())[:5]} outside the heads' "
            f"{n_target} (target) and {n_source} (source) classes"
        )
    if _same_classes(class_rows, n_source, n_target):
        plan.extend(head)
        head = []
    for found, weight in plan:
        weight.assign(np.asarray(keras.ops.convert_to_numpy(found.value)))
    targets = np.fromiter(class_rows.keys(), dtype=np.int64, count=len(class_rows))
    sources = np.fromiter(class_rows.values(), dtype=np.int64, count=len(class_rows))
    for found, weight in head:
        values = np.array(keras.ops.convert_to_numpy(weight.value))
        values[..., targets] = np.asarray(keras.ops.convert_to_numpy(found.value))[..., sources]
        weight.assign(values)
    copied_classes = n_target if not head else len(class_rows)
    return WeightTransfer(
        copied=tuple(w.path for _, w in plan),
        head_classes_copied=copied_classes,
        head_classes_new=n_target - copied_classes,
        left_fresh=tuple(fresh),
    )
