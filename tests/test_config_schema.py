"""The typed config schemas (``islr.config``): wrong types and unknown keys fail at composition,
naming the key; every value is stated once, in the YAML files."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException
from omegaconf import MISSING, OmegaConf

import islr  # noqa: F401  (registers the schemas, as every islr entry point does)
from islr.config import SCHEMAS

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"
# Keys a user must give on the command line (``???`` in the YAML files).
REQUIRED = {"eval": {"ckpt_path"}, "export": {"sources"}, "extract": {"out"}}


def _compose(name: str, overrides: list[str], config_dir: Path = CONF_DIR):
    with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
        return compose(name, overrides=overrides)


def _missing_keys(node, prefix: str = ""):
    """Dotted keys left ``???`` (without resolving interpolations, some need Hydra's runtime)."""
    for key in node:
        path = f"{prefix}{key}"
        if OmegaConf.is_missing(node, key):
            yield path
        elif OmegaConf.is_dict(child := node._get_node(key)) and not child._is_interpolation():
            yield from _missing_keys(child, path + ".")


def _failure(name: str, overrides: list[str], config_dir: Path = CONF_DIR) -> str:
    """The composition error's message with its cause (what Hydra's CLI prints)."""
    with pytest.raises(ConfigCompositionException) as info:
        _compose(name, overrides, config_dir)
    return f"{info.value} {info.value.__cause__}"


@pytest.mark.parametrize(
    "override, key",
    [
        ("data.batch_size=abc", "data.batch_size"),
        ("data.bucketing=maybe", "data.bucketing"),
        ("trainer.epochs=1.5", "trainer.epochs"),
        ("trainer.awp.lambda=strong", "trainer.awp.lambda"),
        ("trainer.multihost.num_processes=two", "trainer.multihost.num_processes"),
        ("model.dim=wide", "model.dim"),
        ("augment.flip_p=often", "augment.flip_p"),
        ("optim.learning_rate=fast", "optim.learning_rate"),
        ("export.latency_runs=[1,2]", "export.latency_runs"),
        ("callbacks.early_stopping.patience=soon", "callbacks.early_stopping.patience"),
        ("callbacks.reports.enabled=sometimes", "callbacks.reports.enabled"),
    ],
)
def test_a_wrong_type_fails_at_composition_naming_the_key(override: str, key: str) -> None:
    message = _failure("train", [override])
    assert f"full_key: {key}" in message, message


@pytest.mark.parametrize("override", ["trainer.epoch=3", "data.batchsize=8", "model.depth=3"])
def test_an_unknown_key_fails_at_composition(override: str) -> None:
    assert override.split("=")[0] in _failure("train", [override])


def test_a_wrong_type_in_a_users_own_config_file_names_the_key(tmp_path: Path) -> None:
    """A user's config folder (``--config-dir`` = a search path) extends islr's groups and is
    checked against the same schemas."""
    (tmp_path / "data").mkdir()
    mine = tmp_path / "data" / "mine.yaml"
    user = [f"hydra.searchpath=[file://{tmp_path}]", "data=mine"]
    mine.write_text("defaults:\n  - kaggle\n  - _self_\n\nbatch_size: large\n")
    message = _failure("train", user)
    assert "batch_size" in message and "large" in message, message
    mine.write_text("defaults:\n  - kaggle\n  - _self_\n\nbatch_size: 8\n")
    cfg = _compose("train", user)
    assert cfg.data.batch_size == 8 and cfg.data.max_len == 384  # the rest is kaggle.yaml's


def test_values_are_stated_once_in_the_yaml_files() -> None:
    """No schema states a value; every composed config leaves only its required keys unset."""
    for name, schema in SCHEMAS.items():
        for f in dataclasses.fields(schema):
            nested = f.default_factory is not dataclasses.MISSING
            assert nested or f.default is MISSING, f"schema/{name}.{f.name} states a default"
    for name in ("train", "eval", "export", "extract"):
        cfg = _compose(name, [])
        missing = set(_missing_keys(cfg))
        assert missing == REQUIRED.get(name, set()), (name, missing)


@pytest.mark.parametrize("group, option", [("model", "tiny"), ("model", "small")])
def test_variants_state_only_what_they_change(group: str, option: str) -> None:
    """model/tiny and model/small are the reference model with a few settings changed."""
    text = (CONF_DIR / group / f"{option}.yaml").read_text()
    own = OmegaConf.create(text)
    base = _compose("train", [f"{group}=reference"])[group]
    variant = _compose("train", [f"{group}={option}"])[group]
    changed = {k for k in base if base[k] != variant[k]}
    assert changed and changed == set(own) - {"defaults"}, (changed, set(own))


def test_demo_late_dropout_happens_within_the_demo() -> None:
    cfg = _compose("train", ["experiment=demo"])
    assert 0 < cfg.trainer.late_dropout_start_epoch < cfg.trainer.epochs
    assert cfg.model.late_dropout_rate > 0


def test_islr_train_prints_the_key_of_a_wrong_type_and_exits_1(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "islr.cli.train", "data.batch_size=abc"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert done.returncode == 1
    assert "data.batch_size" in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert not (tmp_path / "logs").exists()  # nothing ran


def _leaves(node, prefix: str = ""):
    for key, value in node.items():
        if OmegaConf.is_dict(value):
            yield from _leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


@pytest.mark.parametrize("experiment", sorted(p.stem for p in (CONF_DIR / "experiment").glob("*")))
def test_experiments_state_only_what_they_change(experiment: str) -> None:
    """Every value an experiment sets differs from what the defaults (with its groups) give."""
    own = OmegaConf.load(CONF_DIR / "experiment" / f"{experiment}.yaml")
    groups = [
        f"{group.removeprefix('override /')}={option}"
        for entry in own.pop("defaults", [])
        for group, option in entry.items()
    ]
    base = _compose("train", groups)
    same = [
        key
        for key, value in _leaves(own)
        if key != "task_name"
        and OmegaConf.select(base, key, throw_on_resolution_failure=False) == value
    ]
    assert not same, f"experiment/{experiment}.yaml restates defaults: {same}"
