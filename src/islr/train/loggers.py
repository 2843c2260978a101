"""Experiment tracking: the loggers of the ``logger`` config group (``conf/logger/``).

``cfg.logger`` maps a name to a logger config with a ``_target_``; :func:`build_loggers` builds
each with ``hydra.utils.instantiate`` (a ``null`` entry switches that logger off). The run calls
every logger at four points: :meth:`RunLogger.start`, :meth:`RunLogger.log_epoch` after each
epoch, :meth:`RunLogger.finish` with the final metrics once reports are written, and
:meth:`RunLogger.log_export` once the exported model exists.

- :class:`CSVLogger` (``logger=csv``, the default): the run directory's own files
  (``metrics.csv``, ``metrics.json``, the plots), which every run writes anyway;
- :class:`TensorBoardLogger` (``logger=tensorboard``): event files with a scalar per metric per
  epoch (losses, top-1/top-5, learning rate), the figures as images, the config as text and the
  run's overrides as HParams (a sweep's jobs compare side by side in the HParams tab). Written
  with tensorboard's protocol buffers, so it never imports TensorFlow;
- :class:`MLflowLogger` (``logger=mlflow``): one MLflow run per training run (one per
  multirun job, tagged with its sweep); params = the flattened resolved config, metrics per
  epoch, artifacts = plots, ``metrics.json`` and the exported model. A local SQLite store
  under ``logs/`` by default, any tracking server by URI.

Several at once: ``logger=many`` or ``logger=[csv,tensorboard]``. TensorBoard and MLflow are
optional (``pip install "islr[tracking]"``); choosing one that is not installed is a
:class:`~islr.errors.ConfigError` before training starts.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import socket
import struct
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
from omegaconf import DictConfig, ListConfig, OmegaConf

from islr.atomic_io import exclusive_lock
from islr.errors import ConfigError
from islr.train.callbacks import current_learning_rate

log = logging.getLogger(__name__)

# The run directory's figures, logged as images / artifacts when present.
FIGURES = ("curves.png", "confusion.png", "per_sign_accuracy.png")
# Its other result files, logged as artifacts (MLflow).
RESULT_FILES = ("metrics.json", "metrics.csv", "per_sign_accuracy.csv")
INSTALL_HINT = 'pip install "islr[tracking]"'


@dataclass
class RunInfo:
    """What a logger needs to know about the run it records.

    Attributes:
        run_dir: the run directory.
        params: the resolved config, flattened to ``{"dotted.key": value}``.
        name: a readable run name: the run's command-line overrides, else the directory name.
        task_name: ``cfg.task_name`` (e.g. ``demo``).
        sweep: the multirun sweep this run belongs to (its sweep directory), None for a
            single run.
        job: the job number within the sweep (None for a single run).
        overrides: the run's command-line overrides (``key=value``).
        resumed: the run continues a checkpoint (``resume=true``).
    """

    run_dir: Path
    params: dict[str, Any] = field(default_factory=dict)
    name: str = ""
    task_name: str = "train"
    sweep: str | None = None
    job: int | None = None
    overrides: list[str] = field(default_factory=list)
    resumed: bool = False

    @property
    def hparams(self) -> dict[str, Any]:
        """The overridden settings, as ``{key: value}`` (``+``/``~`` prefixes dropped)."""
        out: dict[str, Any] = {}
        for item in self.overrides:
            key, sep, raw = item.partition("=")
            key = key.lstrip("+~")
            if sep and not key.startswith("hydra."):
                out[key] = self.params.get(key, raw)  # a group choice (model=tiny): its name
        return out


class RunLogger:
    """A tracker the training run reports to. Subclasses override the hooks they need."""

    def start(self, run: RunInfo) -> None:
        """Called once the run directory exists, before the first epoch."""

    def log_epoch(self, epoch: int, metrics: Mapping[str, float]) -> None:
        """The metrics of a finished epoch (1-based), as in a row of ``metrics.csv``."""

    def finish(self, result: Mapping[str, Any], status: str = "FINISHED") -> None:
        """The run ended: ``result`` is ``metrics.json``'s content; status is ``FINISHED`` or
        ``FAILED``. The run directory's reports exist when it finished."""

    def log_export(self, export_dir: Path) -> None:
        """The run's exported model was written to ``export_dir``."""

    def attach(self, run_dir: Path) -> None:
        """Reconnect to what :meth:`start` created for the run in ``run_dir`` (a new process
        logging after the run, e.g. the export)."""


class CSVLogger(RunLogger):
    """The run directory's own files: ``metrics.csv`` (a row per epoch), ``metrics.json`` and
    the plots. Every run writes them (resume and the reports read them), so this logger adds
    nothing: it names the default in ``conf/logger/csv.yaml``."""


# --- TensorBoard ---------------------------------------------------------------------------------
def _png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


class TensorBoardLogger(RunLogger):
    """TensorBoard event files: ``tensorboard --logdir logs`` (or a sweep's directory).

    Scalars per epoch under their ``metrics.csv`` names (``loss``, ``val_loss``, ``top1``,
    ``val_top1``, ``top5``, ``val_top5``, ``lr``, ``seconds``); at the end the evaluation of the
    best checkpoint (``best/val_top1``, ...) and the figures as images (``figures/curves``,
    ``figures/confusion``, ``figures/per_sign_accuracy``); the resolved config as text
    (``config``) and the run's overrides as HParams.

    Args:
        log_dir: where the event files go (default in ``conf/logger/tensorboard.yaml``:
            ``<run dir>/tensorboard``, so each run or sweep job is one TensorBoard run).
    """

    def __init__(self, log_dir: str | os.PathLike[str]) -> None:
        try:
            from tensorboard.compat.proto import event_pb2, summary_pb2
            from tensorboard.summary.writer.record_writer import RecordWriter
        except ImportError:
            raise ConfigError(
                f"logger.tensorboard needs the tensorboard package: {INSTALL_HINT}"
            ) from None
        self._event_pb2 = event_pb2
        self._summary_pb2 = summary_pb2
        self._record_writer = RecordWriter
        self.log_dir = Path(log_dir)
        self.path: Path | None = None
        self._file: Any = None
        self._writer: Any = None
        self._last_step = 0

    # Event file (a TFRecord file of Event protos, as tf.summary writes it).
    def _open(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        stamp = time.time()
        name = f"events.out.tfevents.{int(stamp)}.{socket.gethostname()}.{os.getpid()}.islr"
        self.path = self.log_dir / name
        self._file = open(self.path, "wb")  # noqa: SIM115 (closed in finish)
        self._writer = self._record_writer(self._file)
        self._write(self._event_pb2.Event(wall_time=stamp, file_version="brain.Event:2"))

    def _write(self, event: Any) -> None:
        self._writer.write(event.SerializeToString())
        self._file.flush()

    def _summary(self, step: int, values: list[Any]) -> None:
        if self._writer is None:
            self._open()
        summary = self._summary_pb2.Summary(value=values)
        self._write(self._event_pb2.Event(wall_time=time.time(), step=step, summary=summary))

    def _scalar(self, tag: str, value: float) -> Any:
        return self._summary_pb2.Summary.Value(tag=tag, simple_value=float(value))

    def start(self, run: RunInfo) -> None:
        self._open()
        from tensorboard.compat.proto import tensor_pb2, tensor_shape_pb2, types_pb2

        text = "```\n" + "\n".join(f"{k}: {v}" for k, v in run.params.items()) + "\n```"
        metadata = self._summary_pb2.SummaryMetadata(
            plugin_data=self._summary_pb2.SummaryMetadata.PluginData(plugin_name="text")
        )
        tensor = tensor_pb2.TensorProto(
            dtype=types_pb2.DT_STRING,
            string_val=[text.encode()],
            tensor_shape=tensor_shape_pb2.TensorShapeProto(),
        )
        values = [self._summary_pb2.Summary.Value(tag="config", metadata=metadata, tensor=tensor)]
        self._summary(0, values)
        hparams = {k: v for k, v in run.hparams.items() if isinstance(v, bool | int | float | str)}
        if hparams:
            from tensorboard.plugins.hparams import summary_v2

            self._write(
                self._event_pb2.Event(
                    wall_time=time.time(), summary=summary_v2.hparams_pb(hparams, trial_id=run.name)
                )
            )

    def log_epoch(self, epoch: int, metrics: Mapping[str, float]) -> None:
        self._last_step = epoch
        values = [self._scalar(k, v) for k, v in metrics.items() if k != "epoch" and _is_number(v)]
        self._summary(epoch, values)

    def finish(self, result: Mapping[str, Any], status: str = "FINISHED") -> None:
        if self._writer is None:
            return
        step = self._last_step
        values = [self._scalar(f"best/{k}", v) for k, v in final_metrics(result).items()]
        if values:
            self._summary(step, values)
        run_dir = Path(str(result.get("run_dir", "")))
        for name in FIGURES:
            path = run_dir / name
            if not result.get("run_dir") or not path.is_file():
                continue
            data = path.read_bytes()
            width, height = _png_size(data)
            image = self._summary_pb2.Summary.Image(
                height=height, width=width, colorspace=4, encoded_image_string=data
            )
            tag = f"figures/{Path(name).stem}"
            self._summary(step, [self._summary_pb2.Summary.Value(tag=tag, image=image)])
        self._file.close()
        self._file = self._writer = None


# --- MLflow --------------------------------------------------------------------------------------
RUN_ID_FILE = "mlflow_run.json"
MAX_PARAM_VALUE = 6000  # MLflow's limit on a param value
BATCH = 100  # params per log_batch call (MLflow's limit)


def _local_sqlite_path(uri: str) -> Path | None:
    if uri.startswith("sqlite:///"):
        return Path(uri[len("sqlite:///") :])
    return None


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
        id_file = self.run_dir / RUN_ID_FILE
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
        batch = [Metric(k, float(v), stamp, step) for k, v in metrics.items() if _is_number(v)]
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
        for name in RESULT_FILES:
            if (self.run_dir / name).is_file():
                self.client.log_artifact(self.run_id, str(self.run_dir / name))
        for name in FIGURES:
            if (self.run_dir / name).is_file():
                self.client.log_artifact(self.run_id, str(self.run_dir / name), "plots")
        self.client.set_terminated(self.run_id, status=status)

    def attach(self, run_dir: Path) -> None:
        id_file = Path(run_dir) / RUN_ID_FILE
        if not id_file.is_file():
            log.warning("mlflow: %s has no %s: nothing to attach to", run_dir, RUN_ID_FILE)
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


def _params_yaml(params: Mapping[str, Any]) -> str:
    return "".join(f"{k}: {json.dumps(v, default=str)}\n" for k, v in params.items())


# --- building and driving the loggers ----------------------------------------------------------
def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def final_metrics(result: Mapping[str, Any]) -> dict[str, float]:
    """The end-of-run numbers of ``metrics.json``: the best checkpoint's validation metrics
    (``val_top1``, ``val_top5``, ``val_loss``) and ``epoch`` (the best epoch)."""
    out = {k: float(v) for k, v in result.items() if k.startswith("val_") and _is_number(v)}
    if _is_number(result.get("best_epoch")):
        out["epoch"] = float(result["best_epoch"])
    return out


def flatten_config(cfg: DictConfig, skip: tuple[str, ...] = ("hydra",)) -> dict[str, Any]:
    """``{"dotted.key": value}`` of the resolved config; lists become their JSON text.

    Values are resolved one by one; a value that cannot be resolved here (a Hydra runtime
    interpolation outside a Hydra app) is left out.
    """
    flat: dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, DictConfig):
            for key in node:
                name = f"{prefix}.{key}" if prefix else str(key)
                if name in skip:
                    continue
                try:
                    child = node[key]
                except Exception:  # unresolvable interpolation
                    continue
                walk(child, name)
        elif isinstance(node, ListConfig):
            with contextlib.suppress(Exception):  # unresolvable interpolation
                flat[prefix] = json.dumps(OmegaConf.to_container(node, resolve=True), default=str)
        else:
            flat[prefix] = node

    walk(cfg, "")
    return flat


def swept_overrides(sweep_dir: Path, job_overrides: list[str]) -> list[str]:
    """The overrides of a sweep job that differ between the sweep's jobs.

    A job's overrides repeat the whole command line; what varies is each override the command
    line gave as a sweep (``seed=1,2``), and any the sweeper added itself (Optuna's
    parameters). Read from ``<sweep dir>/multirun.yaml``; all of them when it is unreadable.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        original = OmegaConf.load(sweep_dir / "multirun.yaml").hydra.overrides.task
        parser = OverridesParser.create()
        fixed = {
            o.get_key_element()
            for o in parser.parse_overrides([str(o) for o in original])
            if not o.is_sweep_override()
        }
        parsed = parser.parse_overrides(job_overrides)
    except Exception:  # no multirun.yaml (a custom launcher), or an unparsable one
        return job_overrides
    return [
        text
        for text, o in zip(job_overrides, parsed, strict=True)
        if o.get_key_element() not in fixed
    ]


def run_info(cfg: DictConfig, run_dir: Path, *, resumed: bool = False) -> RunInfo:
    """The :class:`RunInfo` of this run (sweep and overrides from Hydra, when it runs us)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    sweep: str | None = None
    job: int | None = None
    overrides: list[str] = []
    if HydraConfig.initialized():
        hydra_cfg = HydraConfig.get()
        overrides = [str(o) for o in hydra_cfg.overrides.task]
        if hydra_cfg.mode == RunMode.MULTIRUN:
            sweep = str(Path(str(hydra_cfg.sweep.dir)).resolve())
            job = int(hydra_cfg.job.num)
            overrides = swept_overrides(Path(sweep), overrides)
    name = " ".join(o for o in overrides if not o.startswith("hydra.")) or Path(run_dir).name
    if job is not None:
        name = f"{job}: {name}"
    return RunInfo(
        run_dir=Path(run_dir),
        params=flatten_config(cfg),
        name=name,
        task_name=str(cfg.get("task_name", "train")),
        sweep=sweep,
        job=job,
        overrides=overrides,
        resumed=resumed,
    )


class RunLoggers(RunLogger):
    """All the run's loggers as one. A logger that fails while logging is reported and switched
    off; the training goes on (tracking must never cost a run)."""

    def __init__(self, loggers: Mapping[str, RunLogger]) -> None:
        self.loggers = dict(loggers)

    def _each(self, hook: str, *args: Any, **kwargs: Any) -> None:
        for name, logger in list(self.loggers.items()):
            try:
                getattr(logger, hook)(*args, **kwargs)
            except Exception as err:
                log.error("logger %s failed in %s and is switched off: %s", name, hook, err)
                del self.loggers[name]

    def start(self, run: RunInfo) -> None:
        self._each("start", run)

    def log_epoch(self, epoch: int, metrics: Mapping[str, float]) -> None:
        self._each("log_epoch", epoch, metrics)

    def finish(self, result: Mapping[str, Any], status: str = "FINISHED") -> None:
        self._each("finish", result, status)

    def log_export(self, export_dir: Path) -> None:
        self._each("log_export", Path(export_dir))

    def attach(self, run_dir: Path) -> None:
        self._each("attach", Path(run_dir))

    def callback(self) -> keras.callbacks.Callback:
        """A Keras callback that reports each epoch's metrics (and learning rate) to all."""
        return EpochMetricsCallback(self)


class EpochMetricsCallback(keras.callbacks.Callback):
    """Reports each epoch's ``logs``, the learning rate and the epoch's seconds to a logger."""

    def __init__(self, logger: RunLogger) -> None:
        super().__init__()
        self.logger = logger
        self._t0 = time.perf_counter()

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._t0 = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        metrics = {k: float(v) for k, v in (logs or {}).items()}
        metrics["lr"] = current_learning_rate(self.model)
        metrics["seconds"] = time.perf_counter() - self._t0
        self.logger.log_epoch(epoch + 1, metrics)


def build_loggers(cfg: DictConfig) -> RunLoggers:
    """Instantiate every logger in ``cfg.logger`` (``{name: {_target_: ...}}``; null = off).

    Raises:
        ConfigError: ``cfg.logger`` is not a mapping, an entry has no ``_target_``, or a
            logger's library is missing.
    """
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    node = cfg.get("logger")
    if node is None:
        return RunLoggers({})
    if not isinstance(node, DictConfig):
        raise ConfigError(
            f"logger: expected a mapping name -> logger config (e.g. logger=csv), got {node!r}"
        )
    built: dict[str, RunLogger] = {}
    for name in node:
        spec = node[name]
        if spec is None:
            continue
        if not isinstance(spec, DictConfig) or "_target_" not in spec:
            raise ConfigError(f"logger.{name}: needs a _target_ (see conf/logger/)")
        try:
            built[str(name)] = instantiate(spec)
        except InstantiationException as err:
            cause = err.__cause__
            if isinstance(cause, ConfigError):
                raise cause from None
            raise ConfigError(f"logger.{name}: {err}") from None
    return RunLoggers(built)


def log_export(cfg: DictConfig, run_dir: Path, export_dir: Path) -> None:
    """Give the run's exported model (``export_dir``) to the loggers of ``cfg.logger``, which
    reconnect to the run they recorded in ``run_dir`` (``islr-train`` calls this after its
    export)."""
    loggers = build_loggers(cfg)
    loggers.attach(Path(run_dir))
    loggers.log_export(Path(export_dir))
