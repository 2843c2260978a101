"""Where a training run and an export keep their files: the one place that names them.

A training run directory (``logs/<task>/runs/<date>_<time>/``, Hydra's ``paths.output_dir``)::

    checkpoints/best.keras              the best network (no optimizer)
    checkpoints/last.keras              the last epoch's network
    checkpoints/last.weights.h5         training model + optimizer + training state (resume)
    checkpoints/state.json              a readable copy of that state
    metrics.json, metrics.csv           final metrics; one row per epoch
    sign_to_prediction_index_map.json   the vocabulary it was trained with
    curves.png, confusion.png, confusions.csv, per_sign_accuracy.csv/.png
    calibration.json, reliability.png   the temperature and rejection threshold; its diagram
    .hydra/config.yaml                  the composed config
    export/                             an export directory (:class:`ExportLayout`)
    mlflow_run.json                     the MLflow run recording it (logger=mlflow)

The trainer writes these files, evaluation and export read them. This module sits below every
stage (it imports nothing from islr), so ``train``, ``export`` and ``cli`` all name files
through it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "CALIBRATION",
    "CHECKPOINT",
    "CV_SUMMARY",
    "INFERENCE_KERAS",
    "REPORT_JSON",
    "REPORT_MD",
    "SAVED_MODEL",
    "SIGN_MAP_FILENAME",
    "SUBMISSION",
    "ExportLayout",
    "RunLayout",
]

# The Kaggle data's name for the map too (islr.data.reader.SIGN_MAP_FILENAME), so that
# ``read_sign_map(run_dir)`` and ``read_sign_map(export_dir)`` read a run's or an export's map.
SIGN_MAP_FILENAME = "sign_to_prediction_index_map.json"
# The network a run directory stands for (export, predict, evaluate), relative to the run.
CHECKPOINT = Path("checkpoints") / "best.keras"
# A multirun's summary over its jobs' metrics.json, in the sweep directory (islr.train.sweep).
CV_SUMMARY = "cv_summary.json"

INFERENCE_KERAS = "model.keras"
SAVED_MODEL = "saved_model"
SUBMISSION = "submission.zip"
REPORT_JSON = "report.json"
REPORT_MD = "report.md"
# The run's temperature and rejection threshold (islr.train.calibration), copied into its export.
CALIBRATION = "calibration.json"


@dataclass(frozen=True)
class RunLayout:
    """The files of the training run in ``run_dir`` (paths only; nothing is created)."""

    run_dir: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "run_dir", Path(self.run_dir))

    @property
    def checkpoints(self) -> Path:
        """``checkpoints/``: the network and training-state files."""
        return self.run_dir / CHECKPOINT.parent

    @property
    def best(self) -> Path:
        """``checkpoints/best.keras``: the best network (the one exported and evaluated)."""
        return self.run_dir / CHECKPOINT

    @property
    def last(self) -> Path:
        """``checkpoints/last.keras``: the network after the last finished epoch."""
        return self.checkpoints / "last.keras"

    @property
    def last_weights(self) -> Path:
        """``checkpoints/last.weights.h5``: what ``resume=true`` continues from."""
        return self.checkpoints / "last.weights.h5"

    @property
    def state(self) -> Path:
        """``checkpoints/state.json``: a readable copy of the training state."""
        return self.checkpoints / "state.json"

    @property
    def metrics_json(self) -> Path:
        """``metrics.json``: the run's final metrics (or ``status: diverged``)."""
        return self.run_dir / "metrics.json"

    @property
    def metrics_csv(self) -> Path:
        """``metrics.csv``: one row per epoch."""
        return self.run_dir / "metrics.csv"

    @property
    def sign_map(self) -> Path:
        """The vocabulary the run was trained with."""
        return self.run_dir / SIGN_MAP_FILENAME

    @property
    def curves(self) -> Path:
        """``curves.png``: loss, top-1 and learning rate per epoch."""
        return self.run_dir / "curves.png"

    @property
    def confusion(self) -> Path:
        """``confusion.png``: the most confused sign pairs."""
        return self.run_dir / "confusion.png"

    @property
    def confusions_csv(self) -> Path:
        """``confusions.csv``: the pairs behind ``confusion.png``."""
        return self.run_dir / "confusions.csv"

    @property
    def per_sign_accuracy_csv(self) -> Path:
        """``per_sign_accuracy.csv``: top-1/top-5 per sign."""
        return self.run_dir / "per_sign_accuracy.csv"

    @property
    def per_sign_accuracy_png(self) -> Path:
        """``per_sign_accuracy.png``: per-sign top-1, sorted."""
        return self.run_dir / "per_sign_accuracy.png"

    @property
    def calibration(self) -> Path:
        """``calibration.json``: the temperature and rejection threshold fitted on validation."""
        return self.run_dir / CALIBRATION

    @property
    def reliability(self) -> Path:
        """``reliability.png``: the reliability diagram before and after the temperature."""
        return self.run_dir / "reliability.png"

    @property
    def hydra_config(self) -> Path:
        """``.hydra/config.yaml``: the composed config of the run."""
        return self.run_dir / ".hydra" / "config.yaml"

    @property
    def export(self) -> Path:
        """``export/``: where ``islr-train`` exports the run (an :class:`ExportLayout`)."""
        return self.run_dir / "export"

    @property
    def mlflow_run(self) -> Path:
        """``mlflow_run.json``: the MLflow run recording this run (``logger=mlflow``)."""
        return self.run_dir / "mlflow_run.json"

    @property
    def figures(self) -> tuple[Path, ...]:
        """The run's figures: curves, confusions, per-sign accuracy, reliability."""
        return (self.curves, self.confusion, self.per_sign_accuracy_png, self.reliability)

    @property
    def result_files(self) -> tuple[Path, ...]:
        """The run's result tables: ``metrics.json``, ``metrics.csv``, per-sign accuracy,
        ``calibration.json``."""
        return (self.metrics_json, self.metrics_csv, self.per_sign_accuracy_csv, self.calibration)


@dataclass(frozen=True)
class ExportLayout:
    """The files of the export directory ``out_dir`` (a run's ``export/`` or any other)."""

    out_dir: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "out_dir", Path(self.out_dir))

    @property
    def inference_keras(self) -> Path:
        """``model.keras``: the raw-frame inference model."""
        return self.out_dir / INFERENCE_KERAS

    @property
    def saved_model(self) -> Path:
        """``saved_model/``: the SavedModel the TFLite variants are converted from."""
        return self.out_dir / SAVED_MODEL

    def tflite(self, variant: str) -> Path:
        """``model_<variant>.tflite``."""
        return self.out_dir / f"model_{variant}.tflite"

    @property
    def submission(self) -> Path:
        """``submission.zip``: the Kaggle submission (one ``model.tflite``)."""
        return self.out_dir / SUBMISSION

    @property
    def sign_map(self) -> Path:
        """The vocabulary of the exported model."""
        return self.out_dir / SIGN_MAP_FILENAME

    @property
    def report_json(self) -> Path:
        """``report.json``: sizes, parity and latency of every exported file."""
        return self.out_dir / REPORT_JSON

    @property
    def report_md(self) -> Path:
        """``report.md``: the same as a Markdown table."""
        return self.out_dir / REPORT_MD

    @property
    def calibration(self) -> Path:
        """``calibration.json``: the exported run's temperature and rejection threshold (read
        by the predictor; absent when the run had none)."""
        return self.out_dir / CALIBRATION
