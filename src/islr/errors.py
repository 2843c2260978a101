"""Error types shared by several stages (training, evaluation, export, the command lines).

Kept at the bottom of the package so that any stage may raise or catch them without importing a
later stage.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "ConfigError",
    "DataError",
    "DivergenceError",
    "ExportAfterTrainingError",
    "ExportError",
    "NonFiniteWeightsError",
]


class ConfigError(ValueError):
    """A configuration that cannot work (raised before any training, evaluation or export)."""


class DataError(ValueError):
    """Base class of every data problem islr reports (a bad input file, a damaged cache); the
    message names the file and the problem."""


class NonFiniteWeightsError(ValueError):
    """A network or checkpoint holds NaN or infinite weights (it must not be used or exported)."""


class DivergenceError(RuntimeError):
    """Training produced a non-finite loss or non-finite weights and was stopped.

    Attributes:
        epoch: 1-based epoch in which it happened.
        step: 1-based step within that epoch (``None`` when found at the end of the epoch).
    """

    def __init__(self, message: str, *, epoch: int, step: int | None) -> None:
        super().__init__(message)
        self.epoch = epoch
        self.step = step

    def __reduce__(self):  # picklable with its keyword-only fields
        return (_rebuild_divergence, (str(self), self.epoch, self.step))


class ExportError(RuntimeError):
    """An export that cannot be made or fails its checks: a TFLite conversion that fails, a
    converted model that does not reproduce Keras (``islr.export.ParityError``), the wrong Keras
    backend. Defined here so that the command lines name it without importing TensorFlow."""


class ExportAfterTrainingError(RuntimeError):
    """Training finished, its export failed: the run is complete and kept in ``run_dir``.

    The message is the export's own error (chained as ``__cause__``).
    """

    def __init__(self, run_dir: Path, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.run_dir = Path(run_dir)


def _rebuild_divergence(message: str, epoch: int, step: int | None) -> DivergenceError:
    return DivergenceError(message, epoch=epoch, step=step)
