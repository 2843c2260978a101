"""One source of truth for settings: what the trainer derives is never stated in a model config,
and the shipped recipes' schedules fall inside their runs."""

from __future__ import annotations

from pathlib import Path

import pytest

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"
EXPERIMENTS = sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml"))
MODELS = sorted(p.stem for p in (CONF_DIR / "model").glob("*.yaml"))


def _compose(overrides: list[str]):
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose("train", overrides=[*overrides, "paths.output_dir=run"])


@pytest.mark.parametrize("key", ["max_len", "num_classes", "late_dropout_start_step"])
def test_model_settings_the_trainer_derives_are_refused(key: str) -> None:
    from hydra.errors import ConfigCompositionException

    from islr.errors import ConfigError
    from islr.train.run_checks import check_config

    with pytest.raises(ConfigCompositionException, match=f"model.{key}"):
        _compose([f"model.{key}=64"])  # not a key of any model config
    cfg = _compose([f"+model.{key}=64"])  # forced in: refused before any work, naming it
    with pytest.raises(ConfigError, match=rf"^model\.{key}: the trainer sets it from"):
        check_config(cfg)


@pytest.mark.parametrize("model", MODELS)
def test_the_network_takes_its_window_from_data_max_len(model: str) -> None:
    from islr.train.training_model import build_network

    cfg = _compose([f"model={model}", "data.max_len=48"])
    network = build_network(cfg, num_classes=7, late_dropout_start_step=30)
    assert network.get_layer("features").max_len == 48
    assert network.output_shape == (None, 7)


@pytest.mark.parametrize("experiment", [None, *EXPERIMENTS])
def test_recipe_schedules_start_within_the_run(experiment: str | None) -> None:
    """A late-dropout or AWP epoch at or past the last epoch would silently never happen."""
    cfg = _compose([] if experiment is None else [f"experiment={experiment}"])
    epochs = int(cfg.trainer.epochs)
    if float(cfg.model.late_dropout_rate) > 0:
        assert int(cfg.trainer.late_dropout_start_epoch) < epochs
    if float(cfg.trainer.awp["lambda"]) > 0:
        assert int(cfg.trainer.awp.start_epoch) < epochs


def test_the_resume_check_ignores_only_the_settings_that_may_change() -> None:
    """A logger or an output path may change on resume, on either side; a model setting not."""
    from islr.train.resume import run_settings, settings_changes

    current = run_settings(_compose(["experiment=demo"]))
    assert "model.dim" in current and not any(k.startswith(("paths.", "logger.")) for k in current)
    saved = {**current, "logger.csv._target_": "my.own.Logger"}
    assert settings_changes(saved, current) == []
    assert settings_changes({**saved, "model.dim": 8}, current) == [
        f"model.dim: 8 -> {current['model.dim']!r}"
    ]
