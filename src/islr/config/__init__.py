"""Typed schemas of islr's Hydra configs, registered in Hydra's ConfigStore (see ``store``),
and :func:`group_config` to read one group option as Hydra composes it."""

from islr.config.compose import group_config
from islr.config.store import SCHEMAS, register_configs

__all__ = ["SCHEMAS", "group_config", "register_configs"]
