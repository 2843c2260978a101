"""The training run: config -> data -> model -> fit (checkpoints, resume) -> reports.

``train(cfg)`` trains one model from the composed Hydra config (``conf/train.yaml``) and writes
the run directory (:class:`islr.run_layout.RunLayout`: checkpoints, metrics, plots, the
vocabulary). ``islr-train`` calls it through :func:`islr.workflow.train_and_export`, which also
exports the result.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
from omegaconf import DictConfig, ListConfig, OmegaConf

from islr.errors import ConfigError, DivergenceError, NonFiniteWeightsError
from islr.run_layout import RunLayout
from islr.train.callbacks import (
    CheckpointState,
    DivergenceGuard,
    EpochLogger,
    nonfinite_variables,
    read_training_state,
    restore_rng_states,
    write_json_atomic,
)
from islr.train.devices import claim_gpu_for_job
from islr.train.distribution import setup_distribution, teardown_distribution
from islr.train.loggers import RunLoggers, build_loggers, run_info
from islr.train.metrics import evaluate_network
from islr.train.multihost import HostGroup, setup_hosts
from islr.train.pipeline import SequenceBatches, count_valid_frames

log = logging.getLogger(__name__)

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
# Settings a resumed run may change: where files go, loader speed, logging, and what happens
# after training. Any other difference would make the resumed run a different experiment.
RESUME_MAY_CHANGE = (
    "resume",
    "task_name",
    "paths",
    "hydra",
    "export",
    "logger",
    "trainer.progress_bar",
    "trainer.gpu_per_job",
    "trainer.distribution",
    "trainer.multihost",  # the process group (each process has its own process_id)
    "data.cache_dir",
    "data.workers",
    "data.use_multiprocessing",
    "data.max_queue_size",
    "data.preprocess_workers",
    "data.rebuild_cache",
    # Passed by the trainer, not configured (runs before the change saved the model config's).
    "model.max_len",
    "model.num_classes",
    "model.late_dropout_start_step",
)
# Model arguments the trainer passes (build_network), so that no model config states them.
MODEL_SETTINGS_FROM_TRAINER = {
    "max_len": "data.max_len",
    "num_classes": "the data's sign map",
    "late_dropout_start_step": "trainer.late_dropout_start_epoch",
}


@dataclass
class DataSplit:
    """The cache and the sample indices of one fold's train/validation split."""

    cache: Any
    train_indices: np.ndarray
    val_indices: np.ndarray | None
    fold: int | None
    sign_map: dict[str, int]
    valid_lengths: np.ndarray

    @property
    def num_classes(self) -> int:
        return len(self.sign_map)

    @property
    def sign_names(self) -> list[str]:
        names = [""] * len(self.sign_map)
        for sign, idx in self.sign_map.items():
            names[int(idx)] = sign
        return names


# --- config checks ----------------------------------------------------------------------------
def run_settings(cfg: DictConfig) -> dict[str, Any]:
    """The run's resolved settings as ``{"dotted.key": value}``, without :data:`RESUME_MAY_CHANGE`.

    Saved in the training state, so that ``resume=true`` can refuse a changed configuration.
    """
    flat: dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        # Values are resolved one by one, so an excluded node (paths.output_dir, which needs
        # Hydra's runtime) is never resolved.
        if any(prefix == k or prefix.startswith(k + ".") for k in RESUME_MAY_CHANGE):
            return
        if isinstance(node, DictConfig) and len(node):
            for key in node:
                walk(node[key], f"{prefix}.{key}" if prefix else str(key))
        elif isinstance(node, DictConfig | ListConfig):
            flat[prefix] = OmegaConf.to_container(node, resolve=True)
        else:
            flat[prefix] = node

    walk(cfg, "")
    return flat


def settings_changes(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """``"key: saved -> current"`` for every setting that differs (absent: ``<unset>``).

    Keys under :data:`RESUME_MAY_CHANGE` are ignored on both sides: a run saved before a key
    joined that list still resumes.
    """
    missing = "<unset>"
    return [
        f"{key}: {saved.get(key, missing)!r} -> {current.get(key, missing)!r}"
        for key in sorted(saved.keys() | current.keys())
        if not any(key == k or key.startswith(k + ".") for k in RESUME_MAY_CHANGE)
        and saved.get(key, missing) != current.get(key, missing)
    ]


def parse_fold(fold: Any, num_folds: int) -> int | None:
    """``data.fold`` -> an int in ``[0, num_folds)`` or None for ``"all"`` (clear error else)."""
    if isinstance(fold, str):
        if fold.strip().lower() == "all":
            return None
        try:
            fold = int(fold)
        except ValueError:
            raise ConfigError(f"data.fold={fold!r}: expected an integer fold or 'all'") from None
    if fold is None or isinstance(fold, bool) or not isinstance(fold, int | np.integer):
        raise ConfigError(f"data.fold={fold!r}: expected an integer fold or 'all'")
    if not 0 <= int(fold) < num_folds:
        raise ConfigError(
            f"data.fold={fold}: no such fold; the data has {num_folds} folds "
            f"(0..{num_folds - 1}) or use data.fold=all"
        )
    return int(fold)


def check_config(cfg: DictConfig) -> None:
    """Reject settings that would fail later, naming the option (before any data work)."""
    precision = cfg.trainer.precision
    if precision not in PRECISIONS:
        raise ConfigError(f"trainer.precision={precision!r}: expected one of {PRECISIONS}")
    if cfg.trainer.jit_compile not in (True, False, "auto"):
        raise ConfigError(f"trainer.jit_compile={cfg.trainer.jit_compile!r}: true, false or auto")
    for key in ("epochs", "check_val_every_n_epoch"):
        if int(cfg.trainer[key]) < 1:
            raise ConfigError(f"trainer.{key} must be >= 1, got {cfg.trainer[key]}")
    if int(cfg.data.batch_size) < 1 or int(cfg.data.eval_batch_size) < 1:
        raise ConfigError("data.batch_size and data.eval_batch_size must be >= 1")
    if int(cfg.data.num_folds) < 2:
        raise ConfigError(f"data.num_folds must be >= 2, got {cfg.data.num_folds}")
    parse_fold(cfg.data.fold, int(cfg.data.num_folds))
    if float(cfg.trainer.awp["lambda"]) < 0:
        raise ConfigError(f"trainer.awp.lambda must be >= 0, got {cfg.trainer.awp['lambda']}")
    if not str(cfg.data.root):
        raise ConfigError("data.root is empty")
    for key, source in MODEL_SETTINGS_FROM_TRAINER.items():  # one source of truth
        if key in cfg.model:
            raise ConfigError(f"model.{key}: the trainer sets it from {source}; remove it")


# --- setup ------------------------------------------------------------------------------------
def reset_keras(seed: int, precision: str = "float32", deterministic: bool = False) -> None:
    """A clean session (multirun jobs share one process), the dtype policy and all seeds."""
    teardown_distribution()
    keras.backend.clear_session()
    keras.config.set_dtype_policy(precision)
    if deterministic:
        os.environ["PYTHONHASHSEED"] = str(seed)
        # GPU XLA kernels (JAX): read when the backend client starts.
        os.environ.setdefault("XLA_FLAGS", "--xla_gpu_deterministic_ops=true")
        tf = sys.modules.get("tensorflow")  # already loaded by Keras' TF backend; not imported
        if keras.backend.backend() == "tensorflow" and tf is not None:
            tf.config.experimental.enable_op_determinism()
    random.seed(seed)
    keras.utils.set_random_seed(seed)


def load_split(cfg: DictConfig) -> DataSplit:
    """Ensure the cache exists for ``cfg.data`` and split it by ``data.fold``."""
    from islr.data.cache import ensure_cache

    d = cfg.data
    root = Path(str(d.root))
    if not root.exists():
        raise ConfigError(
            f"data.root={root}: no such directory (generate demo data with "
            f"`islr-synth --out {root} --preset demo`)"
        )
    cache = ensure_cache(
        root,
        Path(str(d.cache_dir)),
        num_folds=int(d.num_folds),
        fold_seed=int(d.fold_seed),
        workers=d.preprocess_workers,
        rebuild=bool(d.rebuild_cache),
    )
    if int(cache.num_folds) != int(d.num_folds):
        raise ConfigError(
            f"data.num_folds={d.num_folds} but the cache in {d.cache_dir} has {cache.num_folds} "
            "folds (set data.rebuild_cache=true or another data.cache_dir)"
        )
    fold = parse_fold(d.fold, int(cache.num_folds))
    folds = np.asarray(cache.folds)
    everything = np.arange(len(cache))
    if fold is None:
        train_idx, val_idx = everything, None
    else:
        val_mask = folds == fold
        train_idx, val_idx = everything[~val_mask], everything[val_mask]
        if len(val_idx) == 0:
            raise ConfigError(f"data.fold={fold}: the fold holds no sample")
        if len(train_idx) == 0:
            raise ConfigError(f"data.fold={fold}: nothing left to train on")
    sign_map = {str(k): int(v) for k, v in dict(cache.sign_map).items()}
    return DataSplit(
        cache=cache,
        train_indices=train_idx,
        val_indices=val_idx,
        fold=fold,
        sign_map=sign_map,
        valid_lengths=count_valid_frames(cache),
    )


def make_dataset(
    cfg: DictConfig,
    split: DataSplit,
    *,
    training: bool,
    augmenter: Any = None,
    initial_epoch: int = 0,
    max_batches: int | None = None,
    bucketing: bool | None = None,
    hosts: HostGroup | None = None,
) -> SequenceBatches:
    """A :class:`SequenceBatches` for the train (``training``) or validation split (``hosts``:
    serve only this process's share of every global batch)."""
    d = cfg.data
    hosts = hosts or HostGroup()
    indices = split.train_indices if training else split.val_indices
    return SequenceBatches(
        split.cache,
        indices,
        batch_size=int(d.batch_size if training else d.eval_batch_size),
        max_len=int(d.max_len),
        training=training,
        augmenter=augmenter,
        seed=int(cfg.seed),
        boundaries=list(d.buckets) if d.buckets is not None else None,
        bucketing=bool(d.bucketing if bucketing is None else bucketing),
        valid_lengths=split.valid_lengths[indices],
        initial_epoch=initial_epoch,
        workers=int(d.workers),
        use_multiprocessing=bool(d.use_multiprocessing),
        max_queue_size=int(d.max_queue_size),
        max_batches=max_batches,
        num_shards=hosts.num_processes,
        shard_index=hosts.process_id,
    )


def build_network(cfg: DictConfig, num_classes: int, late_dropout_start_step: int) -> keras.Model:
    """Instantiate ``cfg.model`` for this vocabulary and window."""
    from hydra.utils import instantiate

    return instantiate(
        cfg.model,
        num_classes=num_classes,
        max_len=int(cfg.data.max_len),
        late_dropout_start_step=int(late_dropout_start_step),
    )


def build_training_model(
    network: keras.Model, awp_lambda: float, augmentation: keras.layers.Layer | None = None
) -> keras.Model:
    """The model ``fit`` runs: an AWP wrapper, or a plain functional wrapper around ``network``.

    ``augmentation`` (``augment.on_device=true``: a ``BatchAugmentation``) runs on each batch
    before ``network``, inside the compiled step, in training only. It lives in this wrapper
    only: the network itself is never compiled, so its ``.keras`` files hold no optimizer and
    no augmentation.
    """
    if augmentation is not None:
        points = keras.Input(shape=network.input_shape[1:], name="points")
        network = keras.Model(points, network(augmentation(points)), name="augmented")
    if awp_lambda > 0:
        from islr.train.awp import AWPModel

        return AWPModel(network, awp_lambda=awp_lambda)
    inputs = keras.Input(shape=network.input_shape[1:], name="points")
    return keras.Model(inputs, network(inputs), name="trainer")


def build_callbacks(
    cfg: DictConfig,
    run_dir: Path,
    network: keras.Model,
    *,
    validate: bool,
    settings: dict[str, Any],
    state: dict[str, Any] | None,
) -> tuple[CheckpointState, list[keras.callbacks.Callback]]:
    """The callbacks ``cfg.callbacks`` describes, each built from its ``_target_``.

    Returns the checkpointer (``callbacks.checkpoint``, completed with this run's directory,
    network and resume state: the trainer reads its history and best checkpoint afterwards)
    and the others: ``callbacks.early_stopping`` and a user's own under ``callbacks.extra``.

    Raises:
        ConfigError: a node builds something that is not a Keras callback (or a checkpoint
            callback that is not a :class:`CheckpointState`).
    """
    from hydra.utils import instantiate

    node = cfg.callbacks
    checkpointer = instantiate(node.checkpoint)(
        run_dir, network, validate=validate, seed=int(cfg.seed), settings=settings, state=state
    )
    if not isinstance(checkpointer, CheckpointState):
        raise ConfigError(
            f"callbacks.checkpoint: {node.checkpoint._target_} built a "
            f"{type(checkpointer).__name__}, not a islr.train.callbacks.CheckpointState (subclass)"
        )
    built = {"callbacks.early_stopping": instantiate(node.early_stopping)}
    built.update({f"callbacks.extra.{name}": instantiate(c) for name, c in node.extra.items()})
    for key, callback in built.items():
        if not isinstance(callback, keras.callbacks.Callback):
            raise ConfigError(f"{key}: built a {type(callback).__name__}, not a Keras callback")
    return checkpointer, list(built.values())


def _progress_verbose(setting: Any) -> int:
    if setting is None:
        return 1 if sys.stderr.isatty() else 0
    return 1 if setting else 0


def _multirun_job_num() -> int | None:
    """This job's number inside a Hydra multirun (None for a single run or a Python call)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized():
        return None
    hydra_cfg = HydraConfig.get()
    return int(hydra_cfg.job.num) if hydra_cfg.mode == RunMode.MULTIRUN else None


# --- the run ----------------------------------------------------------------------------------
def train(cfg: DictConfig) -> dict[str, Any]:
    """Train one model as configured; returns the final metrics and where everything went.

    Raises:
        ConfigError: bad configuration (unknown precision, missing fold, ...), before training.
        DivergenceError: the loss or the weights became NaN/inf; training stopped at that step,
            ``metrics.json`` says ``status: diverged`` and ``best.keras`` (if any) is the last
            finite network.
        NonFiniteWeightsError: ``resume=true`` on a checkpoint holding NaN/inf.
    """
    from hydra.utils import instantiate

    from islr.train.losses import SparseCategoricalCrossentropyWithSmoothing

    t_start = time.perf_counter()
    check_config(cfg)
    loggers = build_loggers(cfg)  # a missing tracking library fails here, before any work
    # Before the backend touches a device: parallel sweep jobs each take their own GPU.
    gpu = claim_gpu_for_job(_multirun_job_num(), bool(cfg.trainer.get("gpu_per_job", True)))
    # Also before: join the multi-host JAX group (trainer.multihost, or a SLURM job step).
    hosts = setup_hosts(cfg.trainer)
    if not hosts.writes_files:  # process 0 writes the run directory and reports the run
        loggers = RunLoggers({})
    run_dir = Path(str(cfg.paths.output_dir))
    run_dir.mkdir(parents=True, exist_ok=True)
    layout = RunLayout(run_dir)
    ckpt_dir = layout.checkpoints
    seed = int(cfg.seed)
    tr = cfg.trainer
    reset_keras(seed, "float32", bool(tr.deterministic))

    split = load_split(cfg)
    if hosts.writes_files:
        write_json_atomic(layout.sign_map, split.sign_map)
    validate = split.val_indices is not None
    log.info(
        "data: %d train / %s val sequences, %d classes, fold %s, run dir %s",
        len(split.train_indices),
        len(split.val_indices) if validate else 0,
        split.num_classes,
        "all" if split.fold is None else split.fold,
        run_dir,
    )

    # Resume: the state lives inside last.weights.h5 (see callbacks.CheckpointState).
    state: dict[str, Any] | None = None
    weights_path = layout.last_weights
    settings = run_settings(cfg)
    if cfg.resume:
        state = read_training_state(weights_path) if weights_path.exists() else None
        if state is None:
            log.warning("resume=true but %s holds no checkpoint: starting afresh", ckpt_dir)
        elif int(state.get("seed", seed)) != seed:
            raise ConfigError(f"resume: seed={seed} but the run was started with {state['seed']}")
        elif "settings" in state:
            changes = settings_changes(state["settings"], settings)
            if changes:
                shown = "; ".join(changes[:8]) + ("; ..." if len(changes) > 8 else "")
                raise ConfigError(
                    f"resume: {len(changes)} setting(s) differ from the run in {run_dir}: {shown}. "
                    "Resume with the run's own settings, or start a new run directory."
                )
        else:
            log.warning("resume: %s records no settings (older run); not compared", weights_path)
    initial_epoch = int(state["epoch"]) if state else 0
    epochs = int(tr.epochs)
    if initial_epoch >= epochs:
        log.info("run already complete (%d/%d epochs)", initial_epoch, epochs)

    augmenter = instantiate(cfg.augment) if cfg.get("augment") else None
    train_ds = make_dataset(
        cfg,
        split,
        training=True,
        augmenter=augmenter,
        initial_epoch=initial_epoch,
        max_batches=tr.limit_train_batches,
        hosts=hosts,
    )
    val_ds = (
        make_dataset(cfg, split, training=False, max_batches=tr.limit_val_batches, hosts=hosts)
        if validate
        else None
    )
    steps_per_epoch = len(train_ds)
    total_steps = steps_per_epoch * epochs

    batch_sizes = (int(cfg.data.batch_size), int(cfg.data.eval_batch_size))
    device_setup = setup_distribution(tr.get("distribution"), batch_sizes)
    keras.config.set_dtype_policy(str(tr.precision))
    # The model, its optimizer and metrics live on every device (TF: the strategy's scope).
    with device_setup.scope():
        network = build_network(
            cfg, split.num_classes, int(tr.late_dropout_start_epoch) * steps_per_epoch
        )
        awp_lambda = float(tr.awp["lambda"])
        augmentation = None
        if getattr(augmenter, "on_device", False):  # the pipeline then only gathers and pads
            if device_setup.tf_strategy is not None and device_setup.num_devices > 1:
                # Its one draw per batch is not split by replica (islr.model.replicas is).
                raise ConfigError(
                    "augment.on_device=true with trainer.distribution=data_parallel under "
                    "TensorFlow: every replica would draw the same augmentations for its rows; "
                    "set augment.on_device=false or train with KERAS_BACKEND=jax"
                )
            from islr.augment.batched import BatchAugmentation

            augmentation = BatchAugmentation.from_augmenter(augmenter, seed=seed, name="augment")
        model = build_training_model(network, awp_lambda, augmentation)
        optim_kwargs: dict[str, Any] = {"total_steps": total_steps}
        warmup = int(cfg.optim.get("warmup_steps") or 0)
        if warmup >= total_steps:  # short debug runs (debug=fast, limit_train_batches)
            log.warning("optim.warmup_steps=%d >= %d total steps: warm-up off", warmup, total_steps)
            optim_kwargs["warmup_steps"] = 0
        optimizer = instantiate(cfg.optim)(**optim_kwargs)
        top1 = keras.metrics.SparseCategoricalAccuracy(name="top1")
        top5 = keras.metrics.SparseTopKCategoricalAccuracy(k=5, name="top5")
        model.compile(
            optimizer=optimizer,
            loss=SparseCategoricalCrossentropyWithSmoothing(
                label_smoothing=float(tr.label_smoothing)
            ),
            # weighted: evaluation batches carry weight-0 filler rows (see pipeline)
            weighted_metrics=[top1, top5],
            jit_compile=tr.jit_compile,
        )
        log.info(
            "model: %s parameters, %d steps/epoch, %d epochs, precision %s, awp %s",
            f"{network.count_params():,}",
            steps_per_epoch,
            epochs,
            tr.precision,
            awp_lambda,
        )
        if state:
            optimizer.build(model.trainable_variables)
            model.load_weights(weights_path)
    if state:  # outside the scope: TF reads distributed variables' values only there
        bad = nonfinite_variables([*model.weights, *optimizer.variables])
        if bad:
            raise NonFiniteWeightsError(
                f"resume: {weights_path} holds NaN/inf in {len(bad)} tensor(s) "
                f"({', '.join(bad[:3])}{', ...' if len(bad) > 3 else ''}); a diverged state "
                "cannot be continued: start a new run directory (with a lower learning rate)"
            )
        restore_rng_states(model, weights_path)
        log.info("resumed from %s at epoch %d", weights_path, initial_epoch)

    loggers.start(run_info(cfg, run_dir, resumed=state is not None))
    # Multi-host: saving arrays spread over the processes takes part in collectives, so every
    # process saves each epoch: process 0 into the run directory, the others into a scratch
    # directory they delete at the end.
    ckpt_root = run_dir
    if not hosts.writes_files:
        ckpt_root = Path(tempfile.mkdtemp(prefix=f"islr-process{hosts.process_id}-"))
    checkpointer, configured_callbacks = build_callbacks(
        cfg, ckpt_root, network, validate=validate, settings=settings, state=state
    )
    callbacks: list[keras.callbacks.Callback] = [
        train_ds.epoch_callback(),
        DivergenceGuard(divergence_hints(cfg)),  # before checkpointer: no non-finite checkpoint
        checkpointer,
        EpochLogger(epochs),
        loggers.callback(),  # after the checkpointer: what it reports is saved
        *configured_callbacks,
    ]
    if awp_lambda > 0:
        from islr.train.awp import AWPSchedule

        callbacks.insert(0, AWPSchedule(int(tr.awp.start_epoch)))

    if keras.backend.backend() == "tensorflow":
        train_ds.tf_spec_probe = True
        if val_ds is not None:
            val_ds.tf_spec_probe = True
    t_fit = time.perf_counter()
    if initial_epoch < epochs:
        try:
            model.fit(
                train_ds,
                validation_data=val_ds,
                epochs=epochs,
                initial_epoch=initial_epoch,
                validation_freq=int(tr.check_val_every_n_epoch),
                callbacks=callbacks,
                shuffle=False,  # the dataset shuffles itself from (seed, epoch): resumable
                verbose=_progress_verbose(tr.progress_bar),
            )
        except DivergenceError as err:
            keras.config.set_dtype_policy("float32")
            error = _record_divergence(err, run_dir, split.fold, checkpointer, hosts.writes_files)
            loggers.finish({"run_dir": str(run_dir)}, status="FAILED")
            raise error from None
        except BaseException:
            loggers.finish({"run_dir": str(run_dir)}, status="FAILED")
            raise
    fit_seconds = time.perf_counter() - t_fit

    result: dict[str, Any] = {
        "run_dir": str(run_dir),
        "fold": split.fold,
        "epochs": len(checkpointer.history),
        "best_epoch": checkpointer.best_epoch,
        "history": checkpointer.history,
        "num_parameters": int(network.count_params()),
        "devices": {
            "strategy": device_setup.strategy,
            "num_devices": device_setup.num_devices,
            "num_hosts": device_setup.num_hosts,
            "platform": device_setup.platform,
            "gpu_of_sweep_job": gpu,
            "process_id": hosts.process_id,
        },
        "timing": {
            "fit_seconds_this_session": fit_seconds,
            "train_seconds_total": checkpointer.seconds,
        },
    }
    if hosts.is_multihost:
        # Process 0 alone evaluates best.keras, whole, on its own device (an array over every
        # host's devices would need the others); the others are done.
        teardown_distribution()
        if not hosts.writes_files:
            shutil.rmtree(ckpt_root, ignore_errors=True)
            keras.config.set_dtype_policy("float32")
            return result
    if validate and checkpointer.save_best and checkpointer.best_path.exists():
        best = keras.saving.load_model(checkpointer.best_path, compile=False)
        full_val = make_dataset(cfg, split, training=False)
        evaluation = evaluate_network(best, full_val)
        result.update({f"val_{k}": v for k, v in evaluation.metrics.items()})
        if cfg.callbacks.reports.enabled:
            from islr.train import reports

            reports.write_evaluation_reports(
                run_dir,
                evaluation,
                split.sign_names,
                top_confusions=int(cfg.callbacks.reports.top_confusions),
            )
    result["timing"]["total_seconds_this_session"] = time.perf_counter() - t_start
    if cfg.callbacks.reports.enabled:
        from islr.train import reports

        reports.plot_curves(checkpointer.history, layout.curves)
    write_json_atomic(layout.metrics_json, result)
    loggers.finish(result)
    keras.config.set_dtype_policy("float32")
    teardown_distribution()
    if "val_top1" in result:
        log.info(
            "final val (best epoch %s): top1=%.4f top5=%.4f loss=%.4f",
            result["best_epoch"],
            result["val_top1"],
            result["val_top5"],
            result["val_loss"],
        )
    return result


def divergence_hints(cfg: DictConfig) -> str:
    """The likely causes of a diverged run, with this run's own settings."""
    lr = cfg.optim.get("learning_rate")
    precision = str(cfg.trainer.precision)
    half = "" if precision == "float32" else "; float32 is the most robust"
    return (
        f"Likely causes: a learning rate too high (optim.learning_rate={lr}: try 10x lower), "
        f"numeric precision (trainer.precision={precision}{half}), or bad input data "
        "(NaN/inf values reaching the network)"
    )


def _record_divergence(
    err: DivergenceError,
    run_dir: Path,
    fold: int | None,
    checkpointer: CheckpointState,
    write: bool = True,
) -> DivergenceError:
    """Write ``metrics.json`` with ``status: diverged`` (no val metrics to rank; not when
    ``write`` is false: multi-host processes other than 0) and return the error with what is
    left of the run appended."""
    if checkpointer.save_best and checkpointer.best_path.exists():
        left = (
            f"{checkpointer.best_path} is the last finite network "
            f"(epoch {checkpointer.best_epoch}); nothing was exported"
        )
    else:
        left = "no checkpoint exists (it diverged within the first epoch); nothing was exported"
    message = f"{err} -- {left}"
    log.error("%s", message)
    if not write:
        return DivergenceError(message, epoch=err.epoch, step=err.step)
    write_json_atomic(
        RunLayout(run_dir).metrics_json,
        {
            "run_dir": str(run_dir),
            "status": "diverged",
            "error": message,
            "diverged_at": {"epoch": err.epoch, "step": err.step},
            "fold": fold,
            "epochs": len(checkpointer.history),
            "best_epoch": checkpointer.best_epoch,
            "history": checkpointer.history,
        },
    )
    return DivergenceError(message, epoch=err.epoch, step=err.step)


def config_to_yaml(cfg: DictConfig) -> str:
    """The resolved config as YAML (for logs)."""
    return OmegaConf.to_yaml(cfg, resolve=True)


def load_run_config(run_dir: Path) -> DictConfig:
    """The composed config a run was trained with (``.hydra/config.yaml``)."""
    path = RunLayout(run_dir).hydra_config
    if not path.exists():
        raise FileNotFoundError(f"{path}: not a training run directory (no .hydra/config.yaml)")
    cfg = OmegaConf.load(path)
    assert isinstance(cfg, DictConfig)
    return cfg


def read_sign_map(run_dir: Path) -> dict[str, int]:
    """The vocabulary a run was trained with."""
    return json.loads(RunLayout(run_dir).sign_map.read_text())
