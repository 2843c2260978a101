"""The model ``fit`` runs: the network of ``cfg.model``, an optional on-device augmentation and
AWP wrapper around it, its optimizer and loss, on the devices of the run.

The network itself is never compiled: its ``.keras`` files hold no optimizer and no
augmentation, which live in the wrapper only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import keras
from omegaconf import DictConfig

from islr.augment.settings import AugmentSettings
from islr.train.datamodule import TrainingData
from islr.train.distribution import DeviceSetup
from islr.train.init_from import apply_init_from, read_init_source
from islr.train.losses import SparseCategoricalCrossentropyWithSmoothing
from islr.train.resume import ResumePoint, check_and_restore_rng, load_checkpoint

__all__ = [
    "Trainer",
    "augmentation_layer",
    "build_network",
    "build_trainer",
    "build_training_model",
    "compile_training_model",
]

log = logging.getLogger(__name__)


@dataclass
class Trainer:
    """The network, the model ``fit`` runs around it, its optimizer and the devices.

    ``init_from`` says where the network's starting weights came from (``model.init_from``,
    :func:`islr.train.init_from.apply_init_from`), None for a random start.
    """

    network: keras.Model
    model: keras.Model
    optimizer: Any
    devices: DeviceSetup
    awp_lambda: float
    init_from: dict[str, Any] | None = None


def build_network(cfg: DictConfig, num_classes: int, late_dropout_start_step: int) -> keras.Model:
    """Instantiate ``cfg.model`` for this vocabulary and window."""
    from hydra.utils import instantiate

    from islr.config import network_config

    return instantiate(
        network_config(cfg.model),
        num_classes=num_classes,
        max_len=int(cfg.data.max_len),
        late_dropout_start_step=int(late_dropout_start_step),
    )


def build_training_model(
    network: keras.Model, awp_lambda: float, augmentation: keras.layers.Layer | None = None
) -> keras.Model:
    """The model ``fit`` runs: an AWP wrapper, or a plain functional wrapper around ``network``.

    ``augmentation`` (a ``BatchAugmentation``) runs on each batch before ``network``, inside
    the compiled step, in training only.
    """
    if augmentation is not None:
        points = keras.Input(shape=network.input_shape[1:], name="points")
        network = keras.Model(points, network(augmentation(points)), name="augmented")
    if awp_lambda > 0:
        from islr.train.awp import AWPModel

        return AWPModel(network, awp_lambda=awp_lambda)
    inputs = keras.Input(shape=network.input_shape[1:], name="points")
    return keras.Model(inputs, network(inputs), name="trainer")


def augmentation_layer(augment: AugmentSettings | None, seed: int) -> keras.layers.Layer | None:
    """The layer that applies ``cfg.augment``'s settings inside the training step (None: no
    augmentation). Build it on the run's devices (TF: in the strategy's scope)."""
    if augment is None:
        return None
    from islr.augment.batched import BatchAugmentation

    return BatchAugmentation.from_settings(augment, seed=seed, name="augment")


def compile_training_model(cfg: DictConfig, model: keras.Model, total_steps: int) -> Any:
    """Compile ``model`` with the optimizer of ``cfg.optim`` (its schedule over
    ``total_steps``), the smoothed loss and top-1/top-5; returns the optimizer."""
    from hydra.utils import instantiate

    optim_kwargs: dict[str, Any] = {"total_steps": total_steps}
    warmup = int(cfg.optim.get("warmup_steps") or 0)
    if warmup >= total_steps:  # short debug runs (debug=fast, limit_train_batches)
        log.warning("optim.warmup_steps=%d >= %d total steps: warm-up off", warmup, total_steps)
        optim_kwargs["warmup_steps"] = 0
    optimizer = instantiate(cfg.optim)(**optim_kwargs)
    model.compile(
        optimizer=optimizer,
        loss=SparseCategoricalCrossentropyWithSmoothing(
            label_smoothing=float(cfg.trainer.label_smoothing)
        ),
        # weighted: evaluation batches carry weight-0 filler rows (see pipeline)
        weighted_metrics=[
            keras.metrics.SparseCategoricalAccuracy(name="top1"),
            keras.metrics.SparseTopKCategoricalAccuracy(k=5, name="top5"),
        ],
        jit_compile=cfg.trainer.jit_compile,
    )
    return optimizer


def build_trainer(
    cfg: DictConfig, data: TrainingData, devices: DeviceSetup, resume: ResumePoint
) -> Trainer:
    """Build and compile the model on ``devices`` (continuing ``resume``'s checkpoint)."""
    tr = cfg.trainer
    steps_per_epoch = data.steps_per_epoch
    awp_lambda = float(tr.awp["lambda"])
    init_source = None
    if cfg.model.get("init_from") is not None:
        init_source = read_init_source(str(cfg.model.init_from))
    init_from: dict[str, Any] | None = None
    # The model, its optimizer and metrics live on every device (TF: the strategy's scope).
    with devices.scope():
        network = build_network(
            cfg, data.split.num_classes, int(tr.late_dropout_start_epoch) * steps_per_epoch
        )
        if init_source is not None and resume.resumed:
            log.info(
                "model.init_from=%s not applied: resuming %s, which started from it",
                init_source.setting,
                resume.weights_path,
            )
            init_from = {"source": str(init_source.network_path), "resumed": True}
        elif init_source is not None:
            init_from = apply_init_from(init_source, network, data.split.sign_map)
        augmentation = augmentation_layer(data.augmenter, int(cfg.seed))
        model = build_training_model(network, awp_lambda, augmentation)
        optimizer = compile_training_model(cfg, model, steps_per_epoch * int(tr.epochs))
        log.info(
            "model: %s parameters, %d steps/epoch, %d epochs, precision %s, awp %s",
            f"{network.count_params():,}",
            steps_per_epoch,
            int(tr.epochs),
            tr.precision,
            awp_lambda,
        )
        if resume.resumed:
            load_checkpoint(model, optimizer, resume)
    if resume.resumed:  # outside the scope: TF reads distributed variables' values only there
        check_and_restore_rng(model, optimizer, resume)
    return Trainer(network, model, optimizer, devices, awp_lambda, init_from)
