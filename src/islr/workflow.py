"""Train, then export: what ``islr-train`` does, as a library call.

:func:`islr.train.train` only trains (``islr.train`` never imports export code);
:func:`train_and_export` runs it and then exports the run as ``cfg.export`` says, so a Python
caller gets the same run directory as the command line.

This module is its own stage between ``export`` and ``cli`` rather than a part of
``islr.export``: importing ``islr.export`` imports TensorFlow, which a training process under
another Keras backend (JAX) never loads; it exports in a TensorFlow subprocess instead.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from islr.errors import ExportAfterTrainingError
from islr.run_layout import RunLayout
from islr.train import train
from islr.train.tracking.run_loggers import log_export

log = logging.getLogger(__name__)

__all__ = ["ExportAfterTrainingError", "export_after_training", "train_and_export"]


def export_after_training(run_dir: Path, cfg: DictConfig) -> Path:
    """Export the run's best network (``cfg.export``) into ``<run_dir>/export``.

    Export needs TensorFlow; under another Keras backend it runs in a subprocess with
    ``KERAS_BACKEND=tensorflow`` (the ``.keras`` files are backend-neutral).

    Raises:
        RuntimeError: the export subprocess failed (its output is above).
        ParityError, NonFiniteWeightsError, ValueError, FileExistsError: from the export itself.
    """
    import keras

    out_dir = RunLayout(run_dir).export
    if keras.backend.backend() == "tensorflow":
        from islr.export import export_run  # TensorFlow is loaded already (the backend)

        export_run(run_dir, out_dir=out_dir, cfg=cfg.export)
        return out_dir
    env = dict(os.environ, KERAS_BACKEND="tensorflow")
    # export_run without cfg reads the run's own .hydra/config.yaml export node, so every
    # export.* override given to islr-train applies in the subprocess too.
    code = "import sys; from islr.export import export_run; export_run(sys.argv[1], sys.argv[2])"
    cmd = [sys.executable, "-c", code, str(run_dir), str(out_dir)]
    log.info("exporting with the TensorFlow backend: %s", " ".join(cmd))
    done = subprocess.run(cmd, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"export of {run_dir} failed (exit status {done.returncode}; see above)")
    return out_dir


def train_and_export(cfg: DictConfig) -> dict[str, Any]:
    """Train as configured (:func:`islr.train.train`), then export when ``cfg.export.enabled``.

    The exported model is also given to the run's loggers (MLflow & co.).

    Returns:
        ``train``'s result with ``export_dir``: the export directory as a string, or ``None``
        when export is disabled.

    Raises:
        ExportAfterTrainingError: the training is complete, its export failed (a ParityError,
            a diverged network, a failed export subprocess, ...).
        ConfigError, DataError, DivergenceError, NonFiniteWeightsError: from ``train``.
    """
    result = train(cfg)
    run_dir = Path(result["run_dir"])
    export_dir = None
    # Multi-host: process 0 alone exports (it alone wrote the run directory).
    if cfg.export.enabled and result.get("devices", {}).get("process_id", 0) == 0:
        try:
            export_dir = export_after_training(run_dir, cfg)
        except (ValueError, RuntimeError, FileExistsError) as err:
            # ParityError, NonFiniteWeightsError, a failed export subprocess: the training
            # itself is complete and kept.
            raise ExportAfterTrainingError(run_dir, err) from err
        log_export(cfg, run_dir, export_dir)  # the exported model to MLflow & co.
    return {**result, "export_dir": None if export_dir is None else str(export_dir)}
