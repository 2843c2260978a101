"""``logger=mlflow``: one MLflow run per training run (per multirun job)."""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from islr.atomic_io import exclusive_lock
from islr.errors import ConfigError
from islr.run_layout import RunLayout
from islr.train.tracking.base import INSTALL_HINT, RunInfo, RunLogger, final_metrics, is_number

__all__ = ["MLflowLogger"]

log = logging.getLogger(__name__)

MAX_PARAM_VALUE = 6000  # MLflow's limit on a param value
BATCH = 100  # params per log_batch call (MLflow's limit)


def _local_sqlite_path(uri: str) -> Path | None:
    if uri.startswith("sqlite:///"):
        return Path(uri[len("sqlite:///") :])
    return None


def _params_yaml(params: Mapping[str, Any]) -> str:
    return "".join(f"{k}: {json.dumps(v, default=str)}\n" for k, v in params.items())


class MLflowLogger(RunLogger):
    """One MLflow run per training run (per multirun job); view with ``mlflow ui
    --backend-store-uri sqlite:///logs/mlflow.db`` (the UI is in the full ``mlflow`` package).

    Params: the flattened resolved config. Metrics: every ``metrics.csv`` column per epoch
    (step = epoch), and ``best_val_top1`` / ``best_val_top5`` / ``best_val_loss`` (the best
    checkpoint on the whole validation split), ``best_epoch``. Artifacts: ``metrics.json``,
    ``metrics.csv``, ``per_sign_accuracy.csv``, ``config.yaml``, ``plots/*.png`` and
    ``export/`` (the exported model). Tags: ``islr.sweep`` (the sweep directory; one value per
    ``--multirun``), ``islr.job``, ``islr.run_dir``, ``islr.overrides``. A resumed run
    continues its MLflow run (its id is kept in ``<run dir>/mlflow_run.json``).

    Args:
        tracking_uri: an MLflow tracking URI: ``sqlite:///logs/mlflow.db`` (relative to the
            current directory), ``http://host:5000``, ``databricks``, ...
        experiment_name: the MLflow experiment (default: the task name, e.g. ``demo``).
        artifact_location: where a new experiment's artifacts go (local stores; a path or URI);
            None lets the tracking server decide.
        run_name: None: the run's overrides, else its directory name.
        tags: extra tags for the run.
        log_export: log the exported model (``export/``, without ``saved_model/``).
    """

    def __init__(
        self,
        tracking_uri: str,
        experiment_name: str,
        artifact_location: str | None = None,
        run_name: str | None = None,
        tags: Mapping[str, Any] | None = None,
        log_export: bool = True,
    ) -> None:
        try:
            from mlflow.tracking import MlflowClient
        except ImportError:
            raise ConfigError(
                f"logger.mlflow needs MLflow (mlflow or mlflow-skinny): {INSTALL_HINT}"
            ) from None
        self._client_class = MlflowClient
        db = _local_sqlite_path(str(tracking_uri))
        if db is not None:
            tracking_uri = f"sqlite:///{db.resolve()}"
        self.tracking_uri = str(tracking_uri)
        self.experiment_name = str(experiment_name)
        self.artifact_location = artifact_location
        self.run_name = run_name
        self.tags = {str(k): str(v) for k, v in dict(tags or {}).items()}
        self.log_export_dir = bool(log_export)
        self.client: Any = None
        self.run_id: str | None = None
        self.run_dir: Path | None = None

    def _artifact_uri(self) -> str | None:
        loc = self.artifact_location
        if loc is None or "://" in str(loc):
            return loc
        return Path(str(loc)).resolve().as_uri()

    def _connect(self) -> str:
        """The client and the experiment id (created if absent)."""
        db = _local_sqlite_path(self.tracking_uri)
        lock = exclusive_lock(db.with_name(db.name + ".lock")) if db else contextlib.nullcontext()
        with lock:  # one process creates the store's tables and the experiment
            self.client = self._client_class(tracking_uri=self.tracking_uri)
            experiment = self.client.get_experiment_by_name(self.experiment_name)
            if experiment is not None:
                return str(experiment.experiment_id)
            return str(
                self.client.create_experiment(
                    self.experiment_name, artifact_location=self._artifact_uri()
                )
            )

    def start(self, run: RunInfo) -> None:
        from mlflow.entities import Param, RunStatus

        experiment_id = self._connect()
        self.run_dir = Path(run.run_dir)
        id_file = RunLayout(self.run_dir).mlflow_run
        previous = json.loads(id_file.read_text()) if id_file.is_file() else {}
        existing: dict[str, str] = {}
        if previous.get("tracking_uri") == self.tracking_uri and run.resumed:
            self.run_id = str(previous["run_id"])
            self.client.update_run(self.run_id, status=RunStatus.to_string(RunStatus.RUNNING))
            existing = dict(self.client.get_run(self.run_id).data.params)
            log.info("mlflow: continuing run %s", self.run_id)
        else:
            tags = {
                "islr.task": run.task_name,
                "islr.run_dir": str(self.run_dir.resolve()),
                "islr.overrides": " ".join(run.overrides)[:MAX_PARAM_VALUE],
                **({"islr.sweep": run.sweep} if run.sweep else {}),
                **({"islr.job": str(run.job)} if run.job is not None else {}),
                **self.tags,
            }
            name = (self.run_name or run.name or self.run_dir.name)[:250]
            created = self.client.create_run(experiment_id, run_name=name, tags=tags)
            self.run_id = str(created.info.run_id)
            id_file.write_text(
                json.dumps({"tracking_uri": self.tracking_uri, "run_id": self.run_id}) + "\n"
            )
        params = [
            Param(key[:250], str(value)[:MAX_PARAM_VALUE])
            for key, value in run.params.items()
            if key[:250] not in existing
        ]
        for i in range(0, len(params), BATCH):
            self.client.log_batch(self.run_id, params=params[i : i + BATCH])
        self.client.log_text(self.run_id, _params_yaml(run.params), "config.yaml")

    def _log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        from mlflow.entities import Metric

        stamp = int(time.time() * 1000)
        batch = [Metric(k, float(v), stamp, step) for k, v in metrics.items() if is_number(v)]
        if batch:
            self.client.log_batch(self.run_id, metrics=batch)

    def log_epoch(self, epoch: int, metrics: Mapping[str, float]) -> None:
        if self.run_id is not None:
            self._log_metrics({k: v for k, v in metrics.items() if k != "epoch"}, epoch)

    def finish(self, result: Mapping[str, Any], status: str = "FINISHED") -> None:
        if self.run_id is None or self.run_dir is None:
            return
        final = {f"best_{k}": v for k, v in final_metrics(result).items()}
        step = int(result.get("epochs") or 0)
        self._log_metrics(final, step)
        layout = RunLayout(self.run_dir)
        for path in layout.result_files:
            if path.is_file():
                self.client.log_artifact(self.run_id, str(path))
        for path in layout.figures:
            if path.is_file():
                self.client.log_artifact(self.run_id, str(path), "plots")
        self.client.set_terminated(self.run_id, status=status)

    def attach(self, run_dir: Path) -> None:
        id_file = RunLayout(run_dir).mlflow_run
        if not id_file.is_file():
            log.warning("mlflow: %s has no %s: nothing to attach to", run_dir, id_file.name)
            return
        stored = json.loads(id_file.read_text())
        self.client = self._client_class(tracking_uri=str(stored["tracking_uri"]))
        self.run_id = str(stored["run_id"])
        self.run_dir = Path(run_dir)

    def log_export(self, export_dir: Path) -> None:
        if not self.log_export_dir or self.run_id is None:
            return
        for path in sorted(Path(export_dir).iterdir()):
            if path.is_file():
                self.client.log_artifact(self.run_id, str(path), "export")
