"""One group option of islr's configs as Hydra composes it (for code outside a Hydra app)."""

from collections.abc import Sequence

from hydra import compose, initialize_config_module
from omegaconf import DictConfig

CONFIG_MODULE = "islr.conf"


def group_config(group: str, option: str, overrides: Sequence[str] = ()) -> DictConfig:
    """``conf/<group>/<option>.yaml`` composed into ``train.yaml`` (with its schema, the option
    it extends and ``overrides``), e.g. ``group_config("model", "tiny")``.

    A group file is not complete on its own (``model/tiny.yaml`` states only what it changes
    from ``reference.yaml``), so read it this way rather than with ``OmegaConf.load``. The node
    stays inside the composed config: interpolations such as ``${data.max_len}`` resolve.
    """
    with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
        cfg = compose("train", overrides=[f"{group}={option}", *overrides])
    return cfg[group]
