"""Typed schemas of islr's Hydra configs (``conf/``): the keys each group may hold and their types.

The YAML files in ``conf/`` are the one place where values (the defaults included) are stated;
these dataclasses state no values at all (every field is ``MISSING``). Hydra merges each YAML file
onto its schema when it composes a config, so a wrong type (``data.batch_size=abc``) or an unknown
key (``trainer.epoch=3``) fails at composition with a message naming the key, before any work.

Fields typed ``Any`` take more than one kind of value (``data.fold``: an int or ``"all"``;
``trainer.jit_compile``: a bool or ``"auto"``); OmegaConf has no unions of these, so their
values are checked by the code that reads them (``islr.train.run_checks.check_config``).
"""

from dataclasses import dataclass, field
from typing import Any, Optional

from omegaconf import MISSING

# OmegaConf 2.3 reads ``Optional[X]`` but not ``X | None`` in a schema's annotations.
# ruff: noqa: UP045


def _keyword_field_schema(name: str, fields: dict[str, type]) -> type:
    """A schema with a field whose name is a Python keyword (``trainer.awp.lambda``).

    ``dataclasses`` cannot write ``__init__``/``__repr__``/``__eq__`` for such a field, but
    OmegaConf needs none of them: it reads the class's fields and defaults only.
    """
    namespace: dict[str, Any] = {"__annotations__": dict(fields), "__module__": __name__}
    namespace.update(dict.fromkeys(fields, MISSING))
    return dataclass(init=False, repr=False, eq=False)(type(name, (), namespace))


# --- data/ -------------------------------------------------------------------------------------
@dataclass
class DataConfig:
    """``data``: where the Kaggle-layout data and its cache are, the folds and the batches."""

    root: str = MISSING
    cache_dir: str = MISSING
    rebuild_cache: bool = MISSING
    max_len: int = MISSING
    num_folds: int = MISSING
    fold_seed: int = MISSING
    fold: Any = MISSING  # an int, or "all"
    batch_size: int = MISSING
    eval_batch_size: int = MISSING
    bucketing: bool = MISSING
    buckets: Optional[list[int]] = MISSING
    workers: int = MISSING
    use_multiprocessing: bool = MISSING
    max_queue_size: int = MISSING
    preprocess_workers: Optional[int] = MISSING


# --- augment/ ----------------------------------------------------------------------------------
@dataclass
class AugmentConfig:
    """``augment``: :class:`islr.augment.AugmentSettings`' arguments."""

    _target_: str = MISSING
    enabled: bool = MISSING
    max_len: Optional[int] = MISSING
    resample_p: float = MISSING
    resample_scale: list[float] = MISSING
    flip_p: float = MISSING
    affine_p: float = MISSING
    affine_scale: list[float] = MISSING
    affine_shear: list[float] = MISSING
    affine_rotate_deg: list[float] = MISSING
    affine_shift: list[float] = MISSING
    temporal_mask_p: float = MISSING
    temporal_mask_size: list[float] = MISSING
    cutout_p: float = MISSING
    cutout_size: list[float] = MISSING
    mask_value: Optional[float] = MISSING


# --- model/ ------------------------------------------------------------------------------------
@dataclass
class ModelConfig:
    """``model``: :func:`islr.model.build_sign_model`'s arguments (the trainer adds max_len,
    num_classes and late_dropout_start_step) and where a run starts its weights (init_from)."""

    _target_: str = MISSING
    name: str = MISSING
    dim: int = MISSING
    num_stacks: int = MISSING
    conv_blocks_per_stack: int = MISSING
    kernel_size: int = MISSING
    num_heads: int = MISSING
    expand_ratio: int = MISSING
    conv_drop_rate: float = MISSING
    attn_drop_rate: float = MISSING
    drop_path_rate: float = MISSING
    eca_kernel_size: Optional[int] = MISSING
    top_dim_multiplier: int = MISSING
    late_dropout_rate: float = MISSING
    bn_momentum: float = MISSING
    norm: str = MISSING
    attn_scale: str = MISSING
    init_from: Optional[str] = MISSING  # the trainer's, not the builder's (MODEL_START_KEYS)


# --- optim/ ------------------------------------------------------------------------------------
@dataclass
class AdamWConfig:
    """``optim=adamw``: :func:`islr.train.optimizers.build_optimizer` as a partial."""

    _target_: str = MISSING
    _partial_: bool = MISSING
    name: str = MISSING
    learning_rate: float = MISSING
    min_learning_rate: float = MISSING
    warmup_steps: int = MISSING
    weight_decay: Optional[float] = MISSING
    clipnorm: Optional[float] = MISSING


@dataclass
class RAdamLookaheadConfig(AdamWConfig):
    """``optim=radam_lookahead``: the reference recipe's optimizer."""

    lookahead_sync_period: int = MISSING
    lookahead_alpha: float = MISSING
    sma_threshold: float = MISSING


# --- trainer/ ----------------------------------------------------------------------------------
AWPConfig = _keyword_field_schema("AWPConfig", {"lambda": float, "start_epoch": int})


@dataclass
class MultihostConfig:
    """``trainer.multihost``: the JAX process group of a multi-host run (null = detected)."""

    coordinator_address: Optional[str] = MISSING
    num_processes: Optional[int] = MISSING
    process_id: Optional[int] = MISSING


@dataclass
class TrainerConfig:
    """``trainer``: the training loop."""

    epochs: int = MISSING
    precision: str = MISSING
    jit_compile: Any = MISSING  # true, false or "auto"
    distribution: Optional[str] = MISSING
    multihost: MultihostConfig = field(default_factory=MultihostConfig)
    gpu_per_job: bool = MISSING
    deterministic: bool = MISSING
    label_smoothing: float = MISSING
    late_dropout_start_epoch: int = MISSING
    awp: AWPConfig = field(default_factory=AWPConfig)  # type: ignore[valid-type]
    limit_train_batches: Optional[int] = MISSING
    limit_val_batches: Optional[int] = MISSING
    check_val_every_n_epoch: int = MISSING
    progress_bar: Optional[bool] = MISSING


# --- callbacks/ --------------------------------------------------------------------------------
@dataclass
class CheckpointCallbackConfig:
    """``callbacks.checkpoint``: :class:`islr.train.checkpoint.CheckpointState` as a partial."""

    _target_: str = MISSING
    _partial_: bool = MISSING
    monitor: str = MISSING
    save_best: bool = MISSING
    save_last: bool = MISSING


@dataclass
class EarlyStoppingCallbackConfig:
    """``callbacks.early_stopping``: :class:`islr.train.early_stopping.EarlyStopOnPlateau`."""

    _target_: str = MISSING
    monitor: str = MISSING
    patience: Optional[int] = MISSING


@dataclass
class ReportsConfig:
    """``callbacks.reports``: the evaluation files written after training."""

    enabled: bool = MISSING
    top_confusions: int = MISSING


@dataclass
class CallbacksConfig:
    """``callbacks``: what runs around the training loop; ``extra`` holds a user's own Keras
    callbacks by name, each a ``_target_`` node."""

    checkpoint: CheckpointCallbackConfig = field(default_factory=CheckpointCallbackConfig)
    early_stopping: EarlyStoppingCallbackConfig = field(default_factory=EarlyStoppingCallbackConfig)
    reports: ReportsConfig = field(default_factory=ReportsConfig)
    extra: dict[str, Any] = MISSING


# --- calibration/ ------------------------------------------------------------------------------
@dataclass
class CalibrationConfig:
    """``calibration``: the temperature and rejection threshold fitted after training
    (:func:`islr.train.calibration.fit_calibration`)."""

    enabled: bool = MISSING
    target_precision: float = MISSING
    bins: int = MISSING


# --- export/ -----------------------------------------------------------------------------------
@dataclass
class WebExportConfig:
    """``export.web``: the browser app written into ``<export>/web/``."""

    enabled: bool = MISSING
    window: int = MISSING
    every: int = MISSING
    top_k: int = MISSING
    app_dir: Optional[str] = MISSING
    node_modules: Optional[str] = MISSING


@dataclass
class ExportConfig:
    """``export``: the parity-checked TFLite export."""

    enabled: bool = MISSING
    variants: list[str] = MISSING
    submission_variant: str = MISSING
    output: str = MISSING
    keep_saved_model: bool = MISSING
    tolerances: dict[str, float] = MISSING
    latency_frames: int = MISSING
    latency_runs: int = MISSING
    out_dir: str = MISSING
    web: WebExportConfig = field(default_factory=WebExportConfig)


# --- spot/ -------------------------------------------------------------------------------------
@dataclass
class ActivityRuleConfig:
    """``spot.activity``: :class:`islr.export.activity.ActivityRule`'s fields."""

    min_hand_points: int = MISSING
    min_speed: float = MISSING
    motion_window: int = MISSING
    smoothing: float = MISSING
    on_threshold: float = MISSING
    off_threshold: float = MISSING
    min_length: int = MISSING
    max_gap: int = MISSING


@dataclass
class SpotConfig:
    """``spot``: :class:`islr.export.spot.SpotSettings` (sign spotting, ``islr-predict --spot``
    and the browser app)."""

    activity: ActivityRuleConfig = field(default_factory=ActivityRuleConfig)
    window: int = MISSING
    stride: int = MISSING
    min_confidence: Optional[float] = MISSING
    uncalibrated_min_confidence: float = MISSING


# --- paths/ ------------------------------------------------------------------------------------
@dataclass
class PathsConfig:
    """``paths``: where data and logs go."""

    root_dir: str = MISSING
    data_dir: str = MISSING
    log_dir: str = MISSING
    output_dir: str = MISSING


# --- the top-level configs ---------------------------------------------------------------------
@dataclass
class TrainRunConfig:
    """``train.yaml``'s own keys (``islr-train``); the groups are typed by their own schemas."""

    task_name: str = MISSING
    seed: int = MISSING
    resume: bool = MISSING
    monitor: str = MISSING
    data: Any = MISSING
    augment: Any = MISSING
    model: Any = MISSING
    optim: Any = MISSING
    trainer: Any = MISSING
    callbacks: Any = MISSING
    logger: Any = MISSING
    calibration: Any = MISSING
    export: Any = MISSING
    paths: Any = MISSING


@dataclass
class EvalRunConfig:
    """``eval.yaml`` (``islr-eval``)."""

    task_name: str = MISSING
    seed: int = MISSING
    ckpt_path: str = MISSING
    data: Any = MISSING
    paths: Any = MISSING


@dataclass
class ExportRunConfig:
    """``export.yaml`` (``islr-export``)."""

    task_name: str = MISSING
    sources: list[str] = MISSING
    out_dir: Optional[str] = MISSING
    sign_map: Optional[str] = MISSING
    max_len: Optional[int] = MISSING
    export: Any = MISSING
    paths: Any = MISSING


@dataclass
class HolisticConfig:
    """``holistic`` of ``extract.yaml``: :class:`islr.data.video.HolisticSettings`."""

    _target_: str = MISSING
    stride: int = MISSING
    max_frames: Optional[int] = MISSING
    mirror: bool = MISSING
    model_complexity: int = MISSING


@dataclass
class ShardConfig:
    """``shard`` of ``extract.yaml``: this job's part of the clips."""

    index: int = MISSING
    count: int = MISSING


@dataclass
class ExtractRunConfig:
    """``extract.yaml`` (``islr-extract-shards``)."""

    task_name: str = MISSING
    inputs: list[str] = MISSING
    manifest: Optional[str] = MISSING
    out: str = MISSING
    sign_map: Optional[str] = MISSING
    participant_id: Any = MISSING  # an int, or a name hashed to one
    workers: int = MISSING
    holistic: HolisticConfig = field(default_factory=HolisticConfig)
    shard: ShardConfig = field(default_factory=ShardConfig)
    progress: bool = MISSING
    paths: Any = MISSING
