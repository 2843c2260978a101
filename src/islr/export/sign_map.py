"""Which sign map an export ships: the one beside its sources, a given one, or a fallback."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

from islr.data.reader import read_sign_map
from islr.run_layout import SIGN_MAP_FILENAME

__all__ = ["find_sign_map", "resolve_sign_map"]

log = logging.getLogger(__name__)


def find_sign_map(source: str | Path) -> Path | None:
    """The sign map belonging to a run dir or ``.keras`` file (run dir, its parent dirs)."""
    path = Path(source)
    start = path if path.is_dir() else path.parent
    for folder in (start, *list(start.parents)[:2]):
        candidate = folder / SIGN_MAP_FILENAME
        if candidate.is_file():
            return candidate
    return None


def resolve_sign_map(
    sources: Sequence[Path], sign_map: str | Path | None, num_classes: int
) -> dict[str, int]:
    """The sign map an export of ``sources`` ships (sign -> class index).

    ``sign_map`` if given; else the one beside the sources (they must agree); else the packaged
    Kaggle map if it has ``num_classes`` signs; else placeholder names ``class_<i>``.

    Raises:
        ValueError: the sources use different maps, or the map does not have ``num_classes``
            signs.
    """
    if sign_map is not None:
        mapping = read_sign_map(sign_map)
        where = str(sign_map)
    else:
        found = [(s, find_sign_map(s)) for s in sources]
        maps = {str(p): read_sign_map(p) for _, p in found if p is not None}
        if len({json.dumps(m, sort_keys=True) for m in maps.values()}) > 1:
            raise ValueError(f"sources use different sign maps: {sorted(maps)}")
        if maps:
            where, mapping = next(iter(maps.items()))
        else:
            packaged = read_sign_map(None)
            if len(packaged) == num_classes:
                where, mapping = "packaged Kaggle sign map", packaged
            else:  # still exportable; predictions are then named by class index
                where, mapping = "placeholder", {f"class_{i}": i for i in range(num_classes)}
            log.warning("no %s beside the sources; using the %s", SIGN_MAP_FILENAME, where)
    if len(mapping) != num_classes:
        raise ValueError(
            f"sign map {where} has {len(mapping)} signs but the networks output {num_classes} "
            "classes"
        )
    return mapping
