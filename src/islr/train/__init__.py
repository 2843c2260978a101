"""islr.train: input pipeline, training run, checkpoints/resume, reports and evaluation.

Never imports TensorFlow (works under any Keras backend).
"""

from islr.train.awp import AWPModel, AWPSchedule
from islr.train.batch_plan import bucket_boundaries
from islr.train.datamodule import load_split
from islr.train.evaluate import (
    Evaluation,
    classification_metrics,
    evaluate_checkpoint,
    evaluate_network,
)
from islr.train.gather import count_valid_frames, drop_empty_frames, pad_batch
from islr.train.losses import SparseCategoricalCrossentropyWithSmoothing
from islr.train.optimizers import (
    OPTIMIZER_NAMES,
    Lookahead,
    RAdam,
    build_optimizer,
    cosine_schedule,
)
from islr.train.pipeline import SequenceBatches
from islr.train.run import train
from islr.train.run_checks import parse_fold
from islr.train.sweep import CVSummaryCallback, summarize_runs

__all__ = [
    "OPTIMIZER_NAMES",
    "AWPModel",
    "AWPSchedule",
    "CVSummaryCallback",
    "Evaluation",
    "Lookahead",
    "RAdam",
    "SequenceBatches",
    "SparseCategoricalCrossentropyWithSmoothing",
    "bucket_boundaries",
    "build_optimizer",
    "classification_metrics",
    "cosine_schedule",
    "count_valid_frames",
    "drop_empty_frames",
    "evaluate_checkpoint",
    "evaluate_network",
    "load_split",
    "pad_batch",
    "parse_fold",
    "summarize_runs",
    "train",
]
