"""islr.data.video: videos -> MediaPipe Holistic landmarks in the Kaggle ISLR layout.

MediaPipe runs in an environment of its own (:mod:`~islr.data.video.environment`); this package
imports neither MediaPipe nor OpenCV, only talks to the worker that does.
"""

from islr.data.video.discover import (
    VIDEO_SUFFIXES,
    VideoClip,
    find_videos,
    is_video,
    participant_id_of,
    read_manifest,
    shard,
)
from islr.data.video.environment import (
    ExtractionEnvironmentError,
    ensure_python,
    environment_dir,
    setup_environment,
)
from islr.data.video.extract import (
    SKIPPED_CSV,
    ExtractionReport,
    build_sign_map,
    extract_clips,
    extract_dataset,
    write_index,
)
from islr.data.video.holistic import (
    ClipLandmarks,
    HolisticProcess,
    HolisticSettings,
    HolisticStream,
    stream_frames,
)

__all__ = [
    "SKIPPED_CSV",
    "VIDEO_SUFFIXES",
    "ClipLandmarks",
    "ExtractionEnvironmentError",
    "ExtractionReport",
    "HolisticProcess",
    "HolisticSettings",
    "HolisticStream",
    "VideoClip",
    "build_sign_map",
    "ensure_python",
    "environment_dir",
    "extract_clips",
    "extract_dataset",
    "find_videos",
    "is_video",
    "participant_id_of",
    "read_manifest",
    "setup_environment",
    "shard",
    "stream_frames",
    "write_index",
]
