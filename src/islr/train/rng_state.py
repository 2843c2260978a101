"""The model's random-generator states (dropout and drop-path seeds) in a checkpoint file.

Keras keeps them in ``model.variables`` but not in ``model.weights``, so ``save_weights``
does not store them; without them a resumed run would draw other dropout masks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras

__all__ = ["RNG_GROUP", "restore_rng_states", "rng_state_variables", "save_rng_states"]

RNG_GROUP = "islr_rng"


def rng_state_variables(model: keras.Model) -> list[Any]:
    """The model's random-generator state variables, in a stable order."""
    weight_ids = {id(w) for w in model.weights}
    return [v for v in model.variables if id(v) not in weight_ids]


def save_rng_states(model: keras.Model, h5_file: Any) -> None:
    """Store the RNG states into an open HDF5 file (group ``islr_rng``)."""
    if RNG_GROUP in h5_file:
        del h5_file[RNG_GROUP]
    group = h5_file.create_group(RNG_GROUP)
    for i, v in enumerate(rng_state_variables(model)):
        group.create_dataset(str(i), data=keras.ops.convert_to_numpy(v.value))
        group[str(i)].attrs["path"] = v.path


def restore_rng_states(model: keras.Model, weights_path: Path) -> None:
    """Restore the RNG states written by :func:`save_rng_states`.

    Raises:
        ValueError: the file holds another number of states than the model has.
    """
    import h5py  # a Keras dependency; only needed here

    variables = rng_state_variables(model)
    with h5py.File(weights_path, "r") as f:
        group = f.get(RNG_GROUP)
        stored = [] if group is None else [group[str(i)][()] for i in range(len(group))]
    if len(stored) != len(variables):
        raise ValueError(
            f"{weights_path}: holds {len(stored)} random-generator states, the model has "
            f"{len(variables)} (was it written by another model config?)"
        )
    for v, value in zip(variables, stored, strict=True):
        v.assign(value)
