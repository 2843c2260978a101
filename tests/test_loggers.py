"""Experiment tracking (``conf/logger/``): what each logger wrote, read back with the real
library -- TensorBoard's EventAccumulator and MLflow's MlflowClient on a local SQLite store
under tmp_path. Never the network."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fast_training import CONF_DIR, FAST, compose_train


def _events(log_dir: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(log_dir), size_guidance={"images": 0, "scalars": 0, "tensors": 0})
    acc.Reload()
    return acc


def _client(db: Path):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{db}")


def _png(path: Path, width: int = 12, height: int = 7) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(width / 10, height / 10), dpi=10)
    fig.savefig(path)
    plt.close(fig)
    return path


def _metrics_csv(run_dir: Path) -> list[dict[str, float]]:
    with open(run_dir / "metrics.csv", newline="") as f:
        return [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(f)]


# --- the config group -------------------------------------------------------------------------
def test_logger_group_defaults_to_csv_and_combines_several() -> None:
    from islr.train.tracking.csv import CSVLogger
    from islr.train.tracking.mlflow import MLflowLogger
    from islr.train.tracking.run_loggers import build_loggers
    from islr.train.tracking.tensorboard import TensorBoardLogger

    def kinds(overrides: list[str]) -> dict[str, type]:
        cfg = compose_train([*overrides, "paths.output_dir=/tmp/run"])
        return {k: type(v) for k, v in build_loggers(cfg).loggers.items()}

    assert kinds([]) == {"csv": CSVLogger}
    assert kinds(["logger=tensorboard"]) == {"tensorboard": TensorBoardLogger}
    assert kinds(["logger=[csv,tensorboard]"]) == {
        "csv": CSVLogger,
        "tensorboard": TensorBoardLogger,
    }
    assert kinds(["logger=many"]) == {
        "csv": CSVLogger,
        "tensorboard": TensorBoardLogger,
        "mlflow": MLflowLogger,
    }
    assert kinds(["logger=many", "logger.mlflow=null"]).keys() == {"csv", "tensorboard"}
    cfg = compose_train(["logger=mlflow", "paths.log_dir=/data/logs", "experiment=demo"])
    mlflow_cfg = cfg.logger.mlflow
    if "MLFLOW_TRACKING_URI" not in os.environ:
        assert mlflow_cfg.tracking_uri == "sqlite:////data/logs/mlflow.db"
    assert mlflow_cfg.experiment_name == "demo"
    assert mlflow_cfg.artifact_location == "/data/logs/mlartifacts"


def test_a_missing_tracking_library_is_a_config_error(tmp_path: Path) -> None:
    """Without tensorboard/mlflow installed, choosing them fails in one line naming the fix."""
    code = (
        "import sys\n"
        "for name in ('tensorboard', 'mlflow'):\n"
        "    sys.modules[name] = None  # as if not installed\n"
        "from hydra import compose, initialize_config_dir\n"
        "from islr.errors import ConfigError\n"
        "from islr.train.tracking.run_loggers import build_loggers\n"
        f"with initialize_config_dir(config_dir={str(CONF_DIR)!r}, version_base='1.3'):\n"
        "    for name in ('tensorboard', 'mlflow'):\n"
        "        cfg = compose('train', overrides=[f'logger={name}', 'paths.output_dir=r'])\n"
        "        try:\n"
        "            build_loggers(cfg)\n"
        "        except ConfigError as err:\n"
        "            print(err)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("logger.tensorboard needs the tensorboard package")
    assert lines[1].startswith("logger.mlflow needs MLflow")
    assert all('pip install "islr[tracking]"' in line for line in lines)


# --- TensorBoard ------------------------------------------------------------------------------
def test_tensorboard_event_files_hold_scalars_images_and_config(tmp_path: Path) -> None:
    from islr.train.tracking.base import RunInfo
    from islr.train.tracking.tensorboard import TensorBoardLogger

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    _png(run_dir / "curves.png", 30, 20)
    _png(run_dir / "confusion.png", 10, 10)
    logger = TensorBoardLogger(run_dir / "tensorboard")
    run = RunInfo(
        run_dir,
        params={"model.dim": 32, "optim.learning_rate": 0.003, "seed": 1},
        name="optim.learning_rate=0.003",
        overrides=["optim.learning_rate=0.003", "model=tiny"],
    )
    logger.start(run)
    for epoch in (1, 2, 3):
        logger.log_epoch(
            epoch,
            {"loss": 3.0 - epoch, "top1": 0.1 * epoch, "val_top1": 0.2 * epoch, "lr": 1e-3 / epoch},
        )
    logger.finish({"run_dir": str(run_dir), "val_top1": 0.55, "best_epoch": 3})

    acc = _events(run_dir / "tensorboard")
    tags = acc.Tags()
    assert {"loss", "top1", "val_top1", "lr", "best/val_top1", "best/epoch"} <= set(tags["scalars"])
    assert [(e.step, round(e.value, 6)) for e in acc.Scalars("val_top1")] == [
        (1, 0.2),
        (2, 0.4),
        (3, 0.6),
    ]
    assert [e.value for e in acc.Scalars("lr")] == pytest.approx([1e-3, 5e-4, 1e-3 / 3])
    assert acc.Scalars("best/val_top1")[0].value == pytest.approx(0.55)
    assert set(tags["images"]) == {"figures/curves", "figures/confusion"}  # no per_sign png
    image = acc.Images("figures/curves")[0]
    assert (image.width, image.height) == (30, 20)
    assert image.encoded_image_string == (run_dir / "curves.png").read_bytes()
    config_text = acc.Tensors("config")[0].tensor_proto.string_val[0].decode()
    assert "model.dim: 32" in config_text

    from tensorboard.plugins.hparams import metadata

    hparams = [
        metadata.parse_session_start_info_plugin_data(
            acc.SummaryMetadata(tag).plugin_data.content
        ).hparams
        for tag in tags["tensors"]
        if tag == metadata.SESSION_START_INFO_TAG
    ]
    assert hparams and hparams[0]["optim.learning_rate"].number_value == pytest.approx(0.003)
    assert hparams[0]["model"].string_value == "tiny"


def test_tensorboard_logger_never_imports_tensorflow(tmp_path: Path) -> None:
    """Training under JAX must not load TensorFlow, TensorBoard logging included."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from islr.train.tracking.base import RunInfo\n"
        "from islr.train.tracking.tensorboard import TensorBoardLogger\n"
        "logger = TensorBoardLogger(Path('tb'))\n"
        "logger.start(RunInfo(Path('.'), params={'a': 1}, overrides=['a=1']))\n"
        "logger.log_epoch(1, {'loss': 1.0})\n"
        "logger.finish({'run_dir': '.', 'val_top1': 0.5})\n"
        "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'\n"
        "print('ok')\n"
    )
    env = dict(os.environ, KERAS_BACKEND="jax")
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))


# --- MLflow -----------------------------------------------------------------------------------
def test_mlflow_run_is_continued_on_resume(tmp_path: Path) -> None:
    from islr.train.tracking.base import RunInfo
    from islr.train.tracking.mlflow import MLflowLogger

    db = tmp_path / "logs" / "mlflow.db"

    def logger() -> MLflowLogger:
        return MLflowLogger(
            tracking_uri=f"sqlite:///{db}",
            experiment_name="resume-test",
            artifact_location=str(tmp_path / "logs" / "mlartifacts"),
        )

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    params = {"model.dim": 32, "data.buckets": "[16, 32]"}
    first = logger()
    first.start(RunInfo(run_dir, params=params))
    first.log_epoch(1, {"loss": 2.0, "val_top1": 0.3})
    first.finish({"run_dir": str(run_dir)}, status="FAILED")  # killed after epoch 1

    again = logger()
    again.start(RunInfo(run_dir, params={**params, "resume": True}, resumed=True))
    again.log_epoch(2, {"loss": 1.5, "val_top1": 0.5})
    (run_dir / "metrics.json").write_text(json.dumps({"val_top1": 0.5}))
    again.finish({"run_dir": str(run_dir), "val_top1": 0.5, "best_epoch": 2, "epochs": 2})

    client = _client(db)
    experiment = client.get_experiment_by_name("resume-test")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.run_id == again.run_id == first.run_id
    assert run.info.status == "FINISHED"
    assert run.data.params["model.dim"] == "32" and run.data.params["resume"] == "True"
    history = client.get_metric_history(run.info.run_id, "val_top1")
    assert sorted((m.step, m.value) for m in history) == [(1, 0.3), (2, 0.5)]
    assert run.data.metrics["best_val_top1"] == 0.5
    assert {a.path for a in client.list_artifacts(run.info.run_id)} >= {
        "metrics.json",
        "config.yaml",
    }


# --- real training runs -----------------------------------------------------------------------
@pytest.mark.slow
def test_training_with_every_logger(tiny_root, tiny_cache, tmp_path):
    """``logger=many``: TensorBoard and MLflow hold the run's metrics.csv, plots and config."""
    from islr.train import train
    from islr.train.tracking.run_loggers import log_export

    run_dir = tmp_path / "logs" / "train" / "runs" / "r1"
    cfg = compose_train(
        [
            *FAST,
            f"data.root={tiny_root}",
            f"data.cache_dir={tiny_cache.cache_dir}",
            "trainer.epochs=2",
            "logger=many",
            f"paths.log_dir={tmp_path / 'logs'}",
            f"paths.output_dir={run_dir}",
        ]
    )
    result = train(cfg)
    rows = _metrics_csv(run_dir)
    assert [r["epoch"] for r in rows] == [1, 2]

    # TensorBoard: one scalar per metrics.csv column and epoch, the three figures
    acc = _events(run_dir / "tensorboard")
    for key in ("loss", "val_loss", "top1", "val_top1", "top5", "val_top5", "lr"):
        assert [e.step for e in acc.Scalars(key)] == [1, 2], key
        assert [e.value for e in acc.Scalars(key)] == pytest.approx(
            [r[key] for r in rows], rel=1e-5
        ), key
    assert set(acc.Tags()["images"]) == {
        "figures/curves",
        "figures/confusion",
        "figures/per_sign_accuracy",
        "figures/reliability",
    }
    assert acc.Scalars("best/val_top1")[0].value == pytest.approx(result["val_top1"])
    assert acc.Scalars("best/val_ece_after")[0].value == pytest.approx(result["val_ece_after"])

    # MLflow: the flattened config, metrics per epoch, the files of the run
    client = _client(tmp_path / "logs" / "mlflow.db")
    experiment = client.get_experiment_by_name("train")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FINISHED"
    params = run.data.params
    assert params["model.dim"] == "32"
    assert params["trainer.epochs"] == "2"
    assert params["data.root"] == str(tiny_root)
    assert json.loads(params["export.variants"]) == list(cfg.export.variants)  # a list
    assert run.data.tags["islr.run_dir"] == str(run_dir.resolve())
    for key in ("loss", "val_top1", "top5", "lr"):
        history = sorted((m.step, m.value) for m in client.get_metric_history(run.info.run_id, key))
        assert [step for step, _ in history] == [1, 2], key
        assert [v for _, v in history] == pytest.approx([r[key] for r in rows], rel=1e-5), key
    assert run.data.metrics["best_val_top1"] == pytest.approx(result["val_top1"])
    assert run.data.metrics["best_val_nll_after"] == pytest.approx(result["val_nll_after"])
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"metrics.json", "metrics.csv", "config.yaml", "plots"} <= artifacts
    plots = {a.path for a in client.list_artifacts(run.info.run_id, "plots")}
    assert plots == {
        "plots/curves.png",
        "plots/confusion.png",
        "plots/per_sign_accuracy.png",
        "plots/reliability.png",
    }
    assert "calibration.json" in artifacts
    local = Path(client.download_artifacts(run.info.run_id, "metrics.json", str(tmp_path)))
    assert json.loads(local.read_text())["val_top1"] == pytest.approx(result["val_top1"])
    assert (tmp_path / "logs" / "mlartifacts").is_dir()  # the local store stays under logs/

    # the exported model (islr-train logs it after its export)
    export_dir = run_dir / "export"
    export_dir.mkdir()
    (export_dir / "model.keras").write_bytes((run_dir / "checkpoints" / "best.keras").read_bytes())
    log_export(cfg, run_dir, export_dir)
    exported = {a.path for a in client.list_artifacts(run.info.run_id, "export")}
    assert exported == {"export/model.keras"}


@pytest.mark.slow
def test_a_fold_sweep_gives_a_cv_summary_and_one_tracked_run_per_job(
    tiny_root, tiny_cache, tmp_path
):
    """``islr-train --multirun data.fold=0,1`` with every tracker: cv_summary.json over the
    folds, one MLflow run per job grouped by the sweep, one TensorBoard run per job."""
    sweep = tmp_path / "sweep"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("MLFLOW_TRACKING_URI", None)
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "islr-train"),
            "--multirun",
            *FAST,
            f"data.root={tiny_root}",
            f"data.cache_dir={tiny_cache.cache_dir}",
            "trainer.epochs=1",
            "trainer.limit_train_batches=2",
            "data.fold=0,1",
            "logger=[csv,mlflow,tensorboard]",
            f"paths.log_dir={tmp_path / 'logs'}",
            f"hydra.sweep.dir={sweep}",
        ],
        cwd=tmp_path,  # independent of the working directory
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    # the sweep summary: mean and std of the folds' validation top-1
    summary = json.loads((sweep / "cv_summary.json").read_text())
    assert summary["num_jobs"] == 2 and sorted(j["fold"] for j in summary["jobs"]) == [0, 1]
    values = [j["val_top1"] for j in summary["jobs"]]
    assert summary["mean"] == pytest.approx(np.mean(values))
    assert summary["std"] == pytest.approx(np.std(values))
    assert "cv summary" in done.stdout
    for job in ("0", "1"):
        assert (sweep / job / "checkpoints" / "best.keras").is_file()
        assert (sweep / job / ".hydra" / "config.yaml").is_file()
        assert (sweep / job / "train.log").stat().st_size > 0
    # MLflow: one run per job, tagged with the sweep
    client = _client(tmp_path / "logs" / "mlflow.db")
    experiment = client.get_experiment_by_name("train")
    runs = client.search_runs([experiment.experiment_id], f"tags.`islr.sweep` = '{sweep}'")
    assert sorted(r.data.tags["islr.job"] for r in runs) == ["0", "1"]
    assert sorted(r.data.params["data.fold"] for r in runs) == ["0", "1"]
    assert sorted(r.info.run_name for r in runs) == ["0: data.fold=0", "1: data.fold=1"]
    assert all(r.info.status == "FINISHED" and "val_top1" in r.data.metrics for r in runs)
    # TensorBoard: one run per job under the sweep directory, the fold as an HParam
    from tensorboard.plugins.hparams import metadata

    for job, fold in (("0", 0), ("1", 1)):
        acc = _events(sweep / job / "tensorboard")
        assert [e.step for e in acc.Scalars("val_top1")] == [1]
        start = metadata.parse_session_start_info_plugin_data(
            acc.SummaryMetadata(metadata.SESSION_START_INFO_TAG).plugin_data.content
        )
        assert start.hparams["data.fold"].number_value == fold
