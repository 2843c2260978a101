"""End-to-end training via the composed Hydra config: run dir, resume after SIGKILL, multirun."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fast_training import CONF_DIR, FAST, compose_train, h5_arrays, sigkill_after_first_checkpoint


def _data(tiny_root: Path, tiny_cache) -> list[str]:
    return [f"data.root={tiny_root}", f"data.cache_dir={tiny_cache.cache_dir}"]


def _run_cli(args: list[str], **kw) -> subprocess.CompletedProcess:
    """Run the installed ``islr-train`` console script (``python -m`` if it isn't installed)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    script = Path(sys.executable).parent / "islr-train"
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "islr.cli.train"]
    return subprocess.run(
        [*cmd, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        **kw,
    )


@pytest.mark.slow
@pytest.mark.backend
def test_tiny_training_writes_the_run_directory(tiny_root, tiny_cache, tmp_path):
    from islr.train import evaluate_checkpoint, train

    run_dir = tmp_path / "run"
    # a user's own callback, built from its _target_ like every configured one
    user_csv = tmp_path / "user_callback.csv"
    user_callback = f"{{_target_:keras.callbacks.CSVLogger,filename:'{user_csv}'}}"
    cfg = compose_train(
        [
            *FAST,
            *_data(tiny_root, tiny_cache),
            "trainer.epochs=2",
            f"paths.output_dir={run_dir}",
            f"+callbacks.extra.user_csv={user_callback}",
        ]
    )
    result = train(cfg)
    assert len(user_csv.read_text().strip().splitlines()) == 1 + 2  # header + 2 epochs

    for name in (
        "sign_to_prediction_index_map.json",
        "checkpoints/best.keras",
        "checkpoints/last.keras",
        "checkpoints/last.weights.h5",
        "checkpoints/state.json",
        "metrics.csv",
        "metrics.json",
        "curves.png",
        "confusion.png",
        "per_sign_accuracy.csv",
        "per_sign_accuracy.png",
    ):
        assert (run_dir / name).is_file() and (run_dir / name).stat().st_size > 0, name
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["epochs"] == 2 and len(metrics["history"]) == 2
    assert 0.0 <= metrics["val_top1"] <= metrics["val_top5"] <= 1.0
    n_val = int((tiny_cache.folds == 0).sum())
    assert metrics["val_num_samples"] == n_val
    state = json.loads((run_dir / "checkpoints/state.json").read_text())
    assert state["epoch"] == 2 and state["seed"] == cfg.seed
    assert json.loads((run_dir / "sign_to_prediction_index_map.json").read_text()) == dict(
        tiny_cache.sign_map
    )
    csv_rows = (run_dir / "metrics.csv").read_text().strip().splitlines()
    assert len(csv_rows) == 3 and "val_top1" in csv_rows[0]
    per_sign = (run_dir / "per_sign_accuracy.csv").read_text().strip().splitlines()
    assert len(per_sign) == 1 + len(tiny_cache.sign_map)

    # islr-eval's library function reproduces the final validation numbers from best.keras
    eval_cfg = _compose_eval(
        [
            *_data(tiny_root, tiny_cache),
            "data.max_len=32",
            f"ckpt_path={run_dir}",
            f"paths.output_dir={tmp_path / 'eval'}",
        ]
    )
    again = evaluate_checkpoint(eval_cfg)
    assert again["val_top1"] == pytest.approx(result["val_top1"], abs=1e-6)
    assert again["val_loss"] == pytest.approx(result["val_loss"], rel=1e-4)
    assert (tmp_path / "eval" / "metrics.json").is_file()


def _compose_eval(overrides: list[str]):
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose("eval", overrides=overrides)


def test_configured_callbacks_are_built_from_their_targets(tmp_path):
    import keras

    from islr.errors import ConfigError
    from islr.train.checkpoint import CheckpointState
    from islr.train.early_stopping import EarlyStopOnPlateau
    from islr.train.fitting import build_callbacks

    network = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    kwargs = {"validate": True, "settings": {}, "state": None}
    cfg = compose_train(["callbacks.early_stopping.patience=4", "monitor=val_top5"])
    checkpointer, others = build_callbacks(cfg, tmp_path, network, **kwargs)
    assert isinstance(checkpointer, CheckpointState) and checkpointer.monitor == "val_top5"
    assert len(others) == 1 and isinstance(others[0], EarlyStopOnPlateau)
    assert others[0].patience == 4 and others[0].monitor == "val_top5"
    not_a_callback = "+callbacks.extra.oops={_target_:collections.OrderedDict}"
    with pytest.raises(ConfigError, match=r"callbacks\.extra\.oops: built a OrderedDict"):
        build_callbacks(compose_train([not_a_callback]), tmp_path, network, **kwargs)
    # the trainer reads the checkpointer's history afterwards: another callback cannot stand in
    wrong_checkpoint = "callbacks.checkpoint._target_=keras.callbacks.LambdaCallback"
    with pytest.raises(ConfigError, match=r"callbacks\.checkpoint: .* not a .*CheckpointState"):
        build_callbacks(compose_train([wrong_checkpoint]), tmp_path, network, **kwargs)


def test_config_errors_are_reported_before_training(tiny_root, tiny_cache, tmp_path):
    from hydra.errors import ConfigCompositionException

    from islr.errors import ConfigError
    from islr.train import train

    base = [*FAST, *_data(tiny_root, tiny_cache), f"paths.output_dir={tmp_path / 'run'}"]
    with pytest.raises(ConfigError, match=r"data.fold=7: no such fold"):
        train(compose_train([*base, "data.fold=7"]))
    with pytest.raises(ConfigError, match=r"data.fold=.x."):
        train(compose_train([*base, "data.fold=x"]))
    with pytest.raises(ConfigError, match=r"trainer\.precision"):
        train(compose_train([*base, "trainer.precision=float8"]))
    with pytest.raises(ConfigError, match="no such directory"):
        train(compose_train([*base, f"data.root={tmp_path / 'missing'}"]))
    with pytest.raises(ConfigCompositionException):
        compose_train([*base, "trainer.no_such_option=1"])
    with pytest.raises(ConfigCompositionException):
        compose_train([*base, "model=no_such_model"])
    # a cache built with other settings is refused when rebuilding is off
    from islr.data import CacheMismatchError

    with pytest.raises(CacheMismatchError):
        train(compose_train([*base, "data.num_folds=3", "data.rebuild_cache=false"]))
    assert not (tmp_path / "run" / "checkpoints").exists()


@pytest.mark.slow
def test_resume_after_sigkill_matches_uninterrupted_run(tiny_root, tiny_cache, tmp_path):
    epochs = 3
    args = [
        *FAST,
        *_data(tiny_root, tiny_cache),
        f"trainer.epochs={epochs}",
        "trainer.limit_train_batches=6",
        "seed=7",
    ]
    straight = tmp_path / "straight"
    done = _run_cli([*args, f"hydra.run.dir={straight}"])
    assert done.returncode == 0, done.stderr[-3000:]

    killed = tmp_path / "killed"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "islr.cli.train", *args, f"hydra.run.dir={killed}"]
    interrupted_at = sigkill_after_first_checkpoint(cmd, killed, env)
    assert 1 <= interrupted_at < epochs

    resumed = _run_cli([*args, f"hydra.run.dir={killed}", "resume=true"])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resumed from" in resumed.stderr + resumed.stdout

    a = h5_arrays(straight / "checkpoints" / "last.weights.h5")
    b = h5_arrays(killed / "checkpoints" / "last.weights.h5")
    assert a.keys() == b.keys() and len(a) > 10
    for name in a:
        np.testing.assert_allclose(b[name], a[name], atol=1e-6, rtol=0, err_msg=name)
    hist_a = json.loads((straight / "metrics.json").read_text())["history"]
    hist_b = json.loads((killed / "metrics.json").read_text())["history"]
    assert [r["epoch"] for r in hist_b] == list(range(1, epochs + 1))
    assert [r["loss"] for r in hist_b] == pytest.approx([r["loss"] for r in hist_a], abs=1e-5)

    # Resuming with other settings is refused before any work, naming what changed.
    from islr.errors import ConfigError
    from islr.train import train

    changed = [*args, f"paths.output_dir={killed}", "resume=true", "optim.learning_rate=0.5"]
    with pytest.raises(ConfigError, match=r"optim\.learning_rate: 0\.\d+ -> 0\.5"):
        train(compose_train(changed))
