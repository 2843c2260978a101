"""The Hydra configs compose, carry the recipe's values, and reject unknown options."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"


def _compose(name: str, overrides: list[str]):
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(name, overrides=overrides)


def test_default_config_composes_with_every_group():
    cfg = _compose("train", [])
    for key in ("data", "augment", "model", "optim", "trainer", "callbacks", "export", "paths"):
        assert key in cfg, key
    assert cfg.data.fold == 0 and cfg.data.num_folds == 5 and cfg.data.max_len == 384
    assert cfg.data.root.endswith("data/synthetic")
    assert cfg.resume is False and isinstance(cfg.seed, int)
    assert cfg.model._target_ == "islr.model.build_sign_model"


def test_reference_experiment_is_the_published_recipe():
    cfg = _compose("train", ["experiment=reference"])
    assert cfg.data.batch_size == 512 and cfg.data.max_len == 384
    assert cfg.optim.name == "radam_lookahead"
    assert cfg.optim.learning_rate == pytest.approx(4e-3)
    assert cfg.optim.min_learning_rate == pytest.approx(1e-6)
    assert cfg.optim.warmup_steps == 0
    assert cfg.optim.weight_decay == pytest.approx(0.1)  # x LR, decoupled
    assert cfg.trainer.label_smoothing == pytest.approx(0.1)
    assert cfg.trainer.awp["lambda"] == pytest.approx(0.2) and cfg.trainer.awp.start_epoch == 15
    assert cfg.model.late_dropout_rate == pytest.approx(0.8)
    assert cfg.trainer.late_dropout_start_epoch == 15
    assert cfg.trainer.epochs == 300 and cfg.trainer.precision == "mixed_bfloat16"
    assert cfg.model.dim == 192 and cfg.model.num_stacks == 2


def test_demo_and_debug_configs_instantiate():
    from hydra.utils import instantiate

    cfg = _compose("train", ["experiment=demo", "debug=fast"])
    assert cfg.model.dim < 192 and cfg.trainer.epochs == 1  # debug overrides the experiment
    assert cfg.trainer.limit_train_batches is not None and cfg.export.enabled is False
    optimizer = instantiate(cfg.optim)(total_steps=1000)
    assert optimizer.__class__.__name__.lower().startswith("adamw")
    augmenter = instantiate(cfg.augment)
    assert augmenter.max_len == cfg.data.max_len
    OmegaConf.resolve(cfg.data)  # every data interpolation resolves


def test_eval_config_requires_a_checkpoint():
    cfg = _compose("eval", ["ckpt_path=some/run"])
    assert cfg.ckpt_path == "some/run" and "data" in cfg
    with pytest.raises(Exception, match="ckpt_path"):
        _ = _compose("eval", []).ckpt_path


def test_unknown_options_are_rejected():
    with pytest.raises(ConfigCompositionException):
        _compose("train", ["trainer.epochz=3"])
    with pytest.raises(ConfigCompositionException):
        _compose("train", ["experiment=does_not_exist"])
