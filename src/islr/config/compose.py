"""One group option of islr's configs as Hydra composes it (for code outside a Hydra app)."""

from collections.abc import Sequence

from hydra import compose, initialize_config_module
from omegaconf import DictConfig, OmegaConf

CONFIG_MODULE = "islr.conf"
# Keys of the model group that say how a run starts its network, not how to build it: the
# trainer reads them; the builder (the node's ``_target_``) never sees them.
MODEL_START_KEYS = ("init_from",)


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


def network_config(model: DictConfig) -> DictConfig:
    """The ``model`` node without :data:`MODEL_START_KEYS`: what ``instantiate`` passes to the
    network builder (``islr.model.build_sign_model``)."""
    values = OmegaConf.to_container(model, resolve=True)  # interpolations need the whole config
    return OmegaConf.create({k: v for k, v in values.items() if k not in MODEL_START_KEYS})
