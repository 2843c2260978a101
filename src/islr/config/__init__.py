"""Typed schemas of islr's Hydra configs, registered in Hydra's ConfigStore (see ``store``),
:func:`group_config` to read one group option as Hydra composes it, and :func:`network_config`
for the network builder's part of the model group."""

from islr.config.compose import MODEL_START_KEYS, group_config, network_config
from islr.config.store import SCHEMAS, register_configs

__all__ = ["MODEL_START_KEYS", "SCHEMAS", "group_config", "network_config", "register_configs"]
