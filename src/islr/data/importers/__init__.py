"""islr.data.importers: landmarks recorded elsewhere -> the Kaggle ISLR layout (and back to .pose).

* :mod:`~islr.data.importers.mp_data`: the action-detection tutorial's ``MP_Data`` folders of
  per-frame ``.npy`` vectors (layouts in :mod:`~islr.data.importers.mp_layout`);
* :mod:`~islr.data.importers.pose_dataset`: folders of ``.pose`` files (``pose-format``, read and
  written by :mod:`~islr.data.importers.pose_file`);
* :mod:`~islr.data.importers.batch`: the batch run they share (signs via
  :mod:`~islr.data.importers.aliases`, resumable, a skip report);
* :mod:`~islr.data.importers.pose_export`: a data root's landmark files as ``.pose`` files.

Imports neither Keras nor TensorFlow; ``pose-format`` only when a ``.pose`` file is touched.
"""

from islr.data.importers.aliases import SIGN_ALIASES, SignNames, spelling
from islr.data.importers.batch import (
    SKIPPED_CSV,
    ImportItem,
    ImportReport,
    Recording,
    RecordingError,
    import_recordings,
    sequence_id_of,
)
from islr.data.importers.mp_data import MpDataReader, find_mp_data, read_mp_data_manifest
from islr.data.importers.mp_layout import (
    KNOWN_LAYOUTS,
    LayoutError,
    VectorLayout,
    detect_layout,
    known_lengths,
    layouts_of_length,
)
from islr.data.importers.pose_dataset import (
    POSE_SUFFIX,
    find_pose_files,
    load_pose_recording,
    read_pose_manifest,
)
from islr.data.importers.pose_export import PoseExportReport, export_pose_files
from islr.data.importers.pose_file import (
    PoseFileError,
    PoseFormatMissingError,
    PoseLandmarks,
    pose_format,
    read_pose_file,
    write_pose_file,
)

__all__ = [
    "KNOWN_LAYOUTS",
    "POSE_SUFFIX",
    "SIGN_ALIASES",
    "SKIPPED_CSV",
    "ImportItem",
    "ImportReport",
    "LayoutError",
    "MpDataReader",
    "PoseExportReport",
    "PoseFileError",
    "PoseFormatMissingError",
    "PoseLandmarks",
    "Recording",
    "RecordingError",
    "SignNames",
    "VectorLayout",
    "detect_layout",
    "export_pose_files",
    "find_mp_data",
    "find_pose_files",
    "import_recordings",
    "known_lengths",
    "layouts_of_length",
    "load_pose_recording",
    "pose_format",
    "read_mp_data_manifest",
    "read_pose_file",
    "read_pose_manifest",
    "sequence_id_of",
    "spelling",
    "write_pose_file",
]
