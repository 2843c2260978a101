"""Finding NaN/inf in a network's weights (a diverged run, a damaged checkpoint).

The trainer checks after every epoch and on resume, the export before it writes anything: a
network holding a non-finite value must never be continued or shipped.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import keras
import numpy as np

__all__ = ["describe_paths", "nonfinite_paths", "nonfinite_variables"]


def nonfinite_paths(variables: Iterable[Any]) -> list[str]:
    """Paths of the floating-point ``variables`` (Keras variables or arrays) holding any NaN or
    infinite value; empty when all are finite. Integer variables (counters) are skipped."""
    bad = []
    for v in variables:
        value = np.asarray(keras.ops.convert_to_numpy(v.value if hasattr(v, "value") else v))
        if np.issubdtype(value.dtype, np.floating) and not np.isfinite(value).all():
            bad.append(str(getattr(v, "path", getattr(v, "name", "?"))))
    return bad


def nonfinite_variables(model: keras.Model) -> list[str]:
    """Paths of ``model``'s weights (trainable or not) holding NaN/inf; empty when finite."""
    return nonfinite_paths(model.weights)


def describe_paths(paths: list[str], limit: int = 3) -> str:
    """``"a, b, c, ..."``: the first ``limit`` paths for an error message."""
    return ", ".join(paths[:limit]) + (", ..." if len(paths) > limit else "")
