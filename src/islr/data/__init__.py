"""islr.data: read the Kaggle ISLR layout, make synthetic data, build the preprocessing cache.

Upstream of everything else; imports neither Keras nor TensorFlow.
"""

from islr.data.cache import (
    CacheError,
    CacheMismatchError,
    CacheReport,
    LandmarkCache,
    build_cache,
    ensure_cache,
    open_cache,
)
from islr.data.folds import assign_folds
from islr.data.reader import (
    LandmarkFileError,
    read_landmark_file,
    read_sign_map,
    read_train_csv,
    resolve_path,
)
from islr.data.synthetic import (
    PRESETS,
    SyntheticSummary,
    generate_dataset,
)
from islr.data.writer import LANDMARK_SCHEMA, write_landmark_file

__all__ = [
    "LANDMARK_SCHEMA",
    "PRESETS",
    "CacheError",
    "CacheMismatchError",
    "CacheReport",
    "LandmarkCache",
    "LandmarkFileError",
    "SyntheticSummary",
    "assign_folds",
    "build_cache",
    "ensure_cache",
    "generate_dataset",
    "open_cache",
    "read_landmark_file",
    "read_sign_map",
    "read_train_csv",
    "resolve_path",
    "write_landmark_file",
]
