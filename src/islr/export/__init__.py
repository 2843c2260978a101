"""islr.export: the trained network as a Kaggle-ready, parity-checked TFLite model.

The only islr package that imports TensorFlow (for the SavedModel and the TFLite converter).

- :func:`build_inference_model`: networks -> raw-frame model ``[T, 543, 3] -> [C]``.
- :func:`export_models` / :func:`export_run`: ``.keras``, SavedModel, TFLite variants checked
  against Keras (:class:`ParityError` otherwise), ``submission.zip``, report.
- :func:`predict_files` / :func:`load_predictor`: top-k signs for parquet files.
- :func:`spot_signs`: the signs made in a long stream, as :class:`SignSegment` s.
"""

from islr.export.exporter import export_models, export_run
from islr.export.inference import (
    build_inference_model,
    float32_copy,
    inference_copy,
    load_network,
)
from islr.export.parity import ParityError, check_parity, parity_inputs
from islr.export.predict import (
    FilePrediction,
    PredictionRun,
    Predictor,
    load_predictor,
    predict_files,
)
from islr.export.report import ExportedFile, ExportReport
from islr.export.settings import ExportSettings
from islr.export.spot import SignSegment, SpotSettings, spot_signs
from islr.export.tflite import (
    TFLiteRunner,
    convert_saved_model,
    tflite_op_counts,
    write_saved_model,
)

__all__ = [
    "ExportReport",
    "ExportSettings",
    "ExportedFile",
    "FilePrediction",
    "ParityError",
    "PredictionRun",
    "Predictor",
    "SignSegment",
    "SpotSettings",
    "TFLiteRunner",
    "build_inference_model",
    "check_parity",
    "convert_saved_model",
    "export_models",
    "export_run",
    "float32_copy",
    "inference_copy",
    "load_network",
    "load_predictor",
    "parity_inputs",
    "predict_files",
    "spot_signs",
    "tflite_op_counts",
    "write_saved_model",
]
