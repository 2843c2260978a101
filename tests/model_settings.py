"""The model arguments of the tests: a ``conf/model`` option, changed only in size.

``build_sign_model`` and its layers take every setting as a required argument; the values come
from the YAML files, as in training, so a test never states a reference value of its own.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from omegaconf import OmegaConf

from islr.config import group_config, network_config


@cache
def _yaml(option: str) -> tuple[tuple[str, Any], ...]:
    cfg = OmegaConf.to_container(network_config(group_config("model", option)))
    cfg.pop("_target_")
    return tuple(cfg.items())


def model_settings(option: str = "reference", **changes: Any) -> dict[str, Any]:
    """``conf/model/<option>.yaml``'s arguments (no ``_target_``) with ``changes``.

    ``late_dropout_start_step`` (passed by the trainer) is 0 unless changed; ``num_classes``
    and ``max_len`` are the caller's.
    """
    return {**dict(_yaml(option)), "late_dropout_start_step": 0, **changes}
