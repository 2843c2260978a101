"""``model.init_from``: a fresh run starts from a trained network (fine-tuning).

The source is a run directory (its ``checkpoints/best.keras`` and the vocabulary beside it) or a
``.keras`` network file (the vocabulary in its folder or one of the two above it, where a run
keeps it: ``<run>/checkpoints/best.keras``). :func:`islr.model.transfer.transfer_weights`
copies the backbone; the head's classes are matched by sign name between the source's
vocabulary and this run's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras

from islr.data.reader import read_sign_map
from islr.errors import ConfigError, DataError
from islr.model.saved import check_network_file, load_network_file
from islr.model.transfer import BackboneMismatchError, transfer_weights
from islr.run_layout import CHECKPOINT, SIGN_MAP_FILENAME, RunLayout

__all__ = ["InitSource", "apply_init_from", "class_rows_by_sign", "read_init_source"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InitSource:
    """A trained network to start from, and its vocabulary.

    Attributes:
        setting: ``model.init_from`` as given (named in messages).
        network_path: the ``.keras`` network.
        sign_map: its vocabulary (sign -> class index), None when no sign map was found.
        sign_map_path: where that vocabulary was read.
    """

    setting: str
    network_path: Path
    sign_map: dict[str, int] | None
    sign_map_path: Path | None


def _sign_map_beside(network_path: Path) -> Path | None:
    folder = network_path.parent
    for candidate in (folder, *list(folder.parents)[:2]):
        path = candidate / SIGN_MAP_FILENAME
        if path.is_file():
            return path
    return None


def read_init_source(setting: str) -> InitSource:
    """The network and vocabulary ``model.init_from=setting`` names (checked before any work).

    Raises:
        ConfigError: no such file or run directory, a run without ``best.keras``, a file that is
            not a ``.keras`` network, or an unreadable sign map; the message names it.
    """
    path = Path(setting).expanduser()
    prefix = f"model.init_from={setting}"
    if path.is_dir():
        network_path = RunLayout(path).best
        if not network_path.is_file():
            raise ConfigError(
                f"{prefix}: {path} holds no {CHECKPOINT} (give a finished training run "
                "directory or a .keras network)"
            )
        sign_map_path: Path | None = RunLayout(path).sign_map
        if not sign_map_path.is_file():
            sign_map_path = None
    elif path.is_file():
        network_path = path
        sign_map_path = _sign_map_beside(path)
    else:
        raise ConfigError(f"{prefix}: no such run directory or .keras file")
    try:
        check_network_file(network_path)
        sign_map = None if sign_map_path is None else read_sign_map(sign_map_path)
    except (ValueError, DataError) as exc:
        raise ConfigError(f"{prefix}: {exc}") from exc
    return InitSource(str(setting), network_path, sign_map, sign_map_path)


def class_rows_by_sign(
    source_signs: dict[str, int], target_signs: dict[str, int]
) -> dict[int, int]:
    """This run's class index -> the source's, for every sign both vocabularies name."""
    return {
        index: source_signs[sign] for sign, index in target_signs.items() if sign in source_signs
    }


def _class_rows(source: InitSource, n_source: int, target_signs: dict[str, int]) -> dict[int, int]:
    if source.sign_map is not None:
        if len(source.sign_map) != n_source:
            raise ConfigError(
                f"model.init_from={source.setting}: {source.sign_map_path} has "
                f"{len(source.sign_map)} signs but {source.network_path} predicts {n_source}"
            )
        return class_rows_by_sign(source.sign_map, target_signs)
    if n_source == len(target_signs):
        log.warning(
            "model.init_from=%s: no %s beside %s; its %d classes are taken to be this run's, "
            "in the same order",
            source.setting,
            SIGN_MAP_FILENAME,
            source.network_path,
            n_source,
        )
        return {i: i for i in range(n_source)}
    raise ConfigError(
        f"model.init_from={source.setting}: no {SIGN_MAP_FILENAME} beside "
        f"{source.network_path}, and its {n_source} classes are not this run's "
        f"{len(target_signs)}: put the vocabulary it was trained with next to it"
    )


def apply_init_from(
    source: InitSource, network: keras.Model, sign_map: dict[str, int]
) -> dict[str, Any]:
    """Load ``source``'s weights into the fresh ``network`` for the vocabulary ``sign_map``.

    Returns what ``metrics.json`` records under ``init_from``: the source, the number of
    weights copied, and how many of this run's signs took their head weights from it.

    Raises:
        ConfigError: the source does not load, or its backbone does not fit ``network``
            (naming the first layer and weight that differ, with both shapes), or its sign
            map does not fit its head.
    """
    prefix = f"model.init_from={source.setting}"
    try:
        trained = load_network_file(source.network_path)
    except ValueError as exc:
        raise ConfigError(f"{prefix}: {exc}") from exc
    class_rows = _class_rows(source, int(trained.output_shape[-1]), sign_map)
    try:
        done = transfer_weights(trained, network, class_rows)
    except BackboneMismatchError as exc:
        raise ConfigError(
            f"{prefix}: the backbone of {source.network_path} does not match this model: {exc}. "
            "Train with the source's model settings (dim, num_stacks, ...)."
        ) from exc
    log.info(
        "model.init_from: %d weights from %s; head: %d of this run's %d signs from it, %d new",
        len(done.copied),
        source.network_path,
        done.head_classes_copied,
        len(sign_map),
        done.head_classes_new,
    )
    return {
        "source": str(source.network_path),
        "sign_map": None if source.sign_map_path is None else str(source.sign_map_path),
        "weights_copied": len(done.copied),
        "head_signs_copied": done.head_classes_copied,
        "head_signs_new": done.head_classes_new,
    }
