"""Registering the schemas (:mod:`islr.config.schema`) in Hydra's ConfigStore.

Each YAML file of a group extends its schema first in its defaults list, e.g.
``conf/data/kaggle.yaml``::

    defaults:
      - /schema/data@_here_
      - _self_

The schemas live under ``schema/`` so that they never show up as choices of the groups
themselves (``data=...``). :func:`register_configs` runs when :mod:`islr` is imported, so every
way of composing islr's configs (the console scripts, Hydra's compose API, a user's own app on
``pkg://islr.conf``) finds them.
"""

from hydra.core.config_store import ConfigStore

from islr.config import schema

__all__ = ["SCHEMAS", "register_configs"]

# ConfigStore name (under schema/) -> schema.
SCHEMAS: dict[str, type] = {
    "data": schema.DataConfig,
    "augment": schema.AugmentConfig,
    "model": schema.ModelConfig,
    "optim/adamw": schema.AdamWConfig,
    "optim/radam_lookahead": schema.RAdamLookaheadConfig,
    "trainer": schema.TrainerConfig,
    "callbacks": schema.CallbacksConfig,
    "calibration": schema.CalibrationConfig,
    "export": schema.ExportConfig,
    "paths": schema.PathsConfig,
    "spot": schema.SpotConfig,
    "train": schema.TrainRunConfig,
    "eval": schema.EvalRunConfig,
    "export_run": schema.ExportRunConfig,
    "extract": schema.ExtractRunConfig,
}


def register_configs() -> None:
    """Store every schema as ``schema/<name>`` (idempotent)."""
    store = ConfigStore.instance()
    for name, node in SCHEMAS.items():
        group, _, leaf = f"schema/{name}".rpartition("/")
        store.store(group=group, name=leaf, node=node)
