"""Building the loggers of ``cfg.logger`` and driving them as one (:class:`RunLoggers`)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import keras
from omegaconf import DictConfig

from islr.errors import ConfigError
from islr.train.history import EpochRecorder
from islr.train.tracking.base import RunInfo, RunLogger

__all__ = ["EpochMetricsCallback", "RunLoggers", "build_loggers", "log_export"]

log = logging.getLogger(__name__)


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


class EpochMetricsCallback(EpochRecorder):
    """Reports each epoch's ``logs``, the learning rate and the epoch's seconds to a logger."""

    def __init__(self, logger: RunLogger) -> None:
        super().__init__()
        self.logger = logger

    def record(self, epoch: int, metrics: dict[str, float], lr: float, seconds: float) -> None:
        """Give the logger the epoch's metrics with ``lr`` and ``seconds``."""
        self.logger.log_epoch(epoch, {**metrics, "lr": lr, "seconds": seconds})


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
