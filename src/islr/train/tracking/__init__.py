"""Experiment tracking: the loggers of the ``logger`` config group (``conf/logger/``).

``cfg.logger`` maps a name to a logger config with a ``_target_``;
:func:`~islr.train.tracking.run_loggers.build_loggers` builds each with
``hydra.utils.instantiate`` (a ``null`` entry switches that logger off). The run calls every
logger (:class:`~islr.train.tracking.base.RunLogger`) at four points: ``start``, ``log_epoch``
after each epoch, ``finish`` with the final metrics once reports are written, and
``log_export`` once the exported model exists.

- :class:`~islr.train.tracking.csv.CSVLogger` (``logger=csv``, the default): the run
  directory's own files (``metrics.csv``, ``metrics.json``, the plots), which every run writes
  anyway;
- :class:`~islr.train.tracking.tensorboard.TensorBoardLogger` (``logger=tensorboard``): event
  files with a scalar per metric per epoch (losses, top-1/top-5, learning rate), the figures as
  images, the config as text and the run's overrides as HParams (a sweep's jobs compare side by
  side in the HParams tab). Written with tensorboard's protocol buffers, so it never imports
  TensorFlow;
- :class:`~islr.train.tracking.mlflow.MLflowLogger` (``logger=mlflow``): one MLflow run per
  training run (one per multirun job, tagged with its sweep); params = the flattened resolved
  config, metrics per epoch, artifacts = plots, ``metrics.json`` and the exported model. A
  local SQLite store under ``logs/`` by default, any tracking server by URI.

Several at once: ``logger=many`` or ``logger=[csv,tensorboard]``. TensorBoard and MLflow are
optional (``pip install "islr[tracking]"``); choosing one that is not installed is a
:class:`~islr.errors.ConfigError` before training starts.
"""
