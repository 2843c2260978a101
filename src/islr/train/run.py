"""The training run: config -> data -> model -> fit (checkpoints, resume) -> reports.

``train(cfg)`` trains one model from the composed Hydra config (``conf/train.yaml``) and writes
the run directory (:class:`islr.run_layout.RunLayout`: checkpoints, metrics, plots, the
vocabulary, the temperature and rejection threshold). ``islr-train`` calls it through
:func:`islr.workflow.train_and_export`, which also exports the result. Each step is built
from the config in a module of its own.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from omegaconf import DictConfig

from islr.atomic_io import write_json_atomic
from islr.train.datamodule import build_datasets, load_split
from islr.train.evaluate import calibrate_best, evaluate_best
from islr.train.fitting import fit, training_callbacks
from islr.train.results import fit_result, log_final, write_results
from islr.train.resume import read_resume_point
from islr.train.run_checks import check_config
from islr.train.tracking.run_info import run_info
from islr.train.tracking.run_loggers import RunLoggers, build_loggers
from islr.train.trainer_setup import end_session, release_hosts, setup_devices, start_session
from islr.train.training_model import build_trainer

__all__ = ["train"]

log = logging.getLogger(__name__)


def train(cfg: DictConfig) -> dict[str, Any]:
    """Train one model as configured; returns the final metrics and where everything went.

    Raises:
        ConfigError: bad configuration (unknown precision, missing fold, ...), before training.
        DivergenceError: the loss or the weights became NaN/inf; training stopped at that step,
            ``metrics.json`` says ``status: diverged`` and ``best.keras`` (if any) is the last
            finite network.
        NonFiniteWeightsError: ``resume=true`` on a checkpoint holding NaN/inf.
    """
    t_start = time.perf_counter()
    check_config(cfg)
    loggers = build_loggers(cfg)  # a missing tracking library fails here, before any work
    session = start_session(cfg)  # the sweep job's GPU, the host group, the run dir, seeds
    if not session.hosts.writes_files:  # process 0 writes the run directory and reports
        loggers = RunLoggers({})
    split = load_split(cfg)
    if session.hosts.writes_files:
        write_json_atomic(session.layout.sign_map, split.sign_map)
    log.info("data: %s, run dir %s", split.describe(), session.run_dir)
    resume = read_resume_point(cfg, session.layout)
    data = build_datasets(cfg, split, initial_epoch=resume.initial_epoch, hosts=session.hosts)
    trainer = build_trainer(cfg, data, setup_devices(cfg), resume)
    loggers.start(run_info(cfg, session.run_dir, resumed=resume.resumed))
    callbacks = training_callbacks(cfg, session, trainer, data, resume, loggers)
    fit_seconds = fit(cfg, trainer, data, callbacks, resume, session, loggers)
    checkpointer = callbacks.checkpointer
    result = fit_result(session, trainer, split.fold, checkpointer, fit_seconds)
    if not release_hosts(session):  # a multi-host process other than 0: done
        return result
    metrics, evaluation = evaluate_best(cfg, split, checkpointer, session.layout)
    result.update(metrics)
    if evaluation is not None:  # the same logits: the temperature and rejection threshold
        result.update(calibrate_best(cfg, evaluation, split.fold, session.layout))
    result["timing"]["total_seconds_this_session"] = time.perf_counter() - t_start
    write_results(cfg, result, checkpointer, session.layout)
    loggers.finish(result)
    end_session()
    log_final(result)
    return result
