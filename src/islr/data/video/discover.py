"""The work list of a video extraction: which clips, their signs, signers and sequence ids.

Labels come from the folder layout or from a manifest:

* **Folders**: every INPUT folder is searched recursively for videos (:data:`VIDEO_SUFFIXES`);
  a clip's sign is the name of its parent folder (``<sign>/<clip>.mp4``). A video file given
  directly gets its sign the same way.
* **Manifest** (``--manifest CSV``): columns ``video`` and ``sign``, optionally
  ``participant_id``; relative ``video`` paths are relative to the manifest's folder.

Participant ids (they drive the participant-grouped folds) come from, first match wins: the
manifest's ``participant_id`` column; ``participant_id`` given for the whole run
(``--participant-id``); else the folder above the sign folder (``<signer>/<sign>/<clip>.mp4``):
a numeric folder name is the id itself, any other name maps to a stable number (its CRC-32). So
``videos/hello/a.mp4`` and ``videos/thankyou/b.mp4`` share one signer, ``videos``.

Sequence ids are a stable 48-bit hash of (participant, sign, the clip's file name; for a manifest,
its ``video`` entry as written), whatever folder was given as INPUT, so every shard of a split run
and every rerun agrees on them, and a finished clip is recognised by its landmark file.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from islr.data.batch_run import drop_repeats, read_csv_cells
from islr.errors import DataError

__all__ = [
    "VIDEO_SUFFIXES",
    "VideoClip",
    "find_videos",
    "is_video",
    "participant_id_of",
    "read_manifest",
    "shard",
]

VIDEO_SUFFIXES: tuple[str, ...] = (".mp4", ".mov", ".avi", ".webm", ".mkv", ".m4v")


@dataclass(frozen=True)
class VideoClip:
    """One video to extract and where its landmarks go."""

    video: Path
    sign: str
    participant_id: int
    sequence_id: int

    @property
    def relative_path(self) -> str:
        """The ``train.csv`` ``path`` of its landmark file."""
        return f"train_landmark_files/{self.participant_id}/{self.sequence_id}.parquet"


def is_video(path: str | Path) -> bool:
    """Whether ``path`` has a video file suffix (case-insensitive)."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def participant_id_of(name: str) -> int:
    """A signer folder's name as a participant id: the number itself, else its CRC-32."""
    return int(name) if name.isdigit() else zlib.crc32(name.encode("utf-8"))


def _sequence_id(participant_id: int, sign: str, key: str) -> int:
    digest = hashlib.blake2b(f"{participant_id}\0{sign}\0{key}".encode(), digest_size=6)
    return int.from_bytes(digest.digest(), "big")


def _clip(video: Path, sign: str, participant_id: int, key: str) -> VideoClip:
    if not sign.strip():
        raise DataError(f"{video}: empty sign name")
    return VideoClip(video, sign, participant_id, _sequence_id(participant_id, sign, key))


def find_videos(inputs: Sequence[str | Path], participant_id: int | None = None) -> list[VideoClip]:
    """The clips under ``inputs`` (video files and/or folders), labelled by their folders.

    Raises:
        DataError: an input that does not exist, a file that is not a video, or no video at all.
    """
    clips: list[VideoClip] = []
    for item in inputs:
        root = Path(item)
        if root.is_dir():
            videos = sorted(p for p in root.rglob("*") if p.is_file() and is_video(p))
            if not videos:
                raise DataError(f"{root}: no video file ({', '.join(VIDEO_SUFFIXES)}) inside")
        elif root.is_file():
            if not is_video(root):
                raise DataError(f"{root}: not a video file (expected {', '.join(VIDEO_SUFFIXES)})")
            videos = [root]
        else:
            raise DataError(f"{root}: no such file or folder")
        for video in videos:
            absolute = video.resolve()
            sign = absolute.parent.name
            signer = absolute.parent.parent.name
            pid = participant_id if participant_id is not None else participant_id_of(signer)
            clips.append(_clip(video, sign, pid, video.name))
    return drop_repeats(clips, lambda clip: clip.video, "clip")


def read_manifest(manifest: str | Path, participant_id: int | None = None) -> list[VideoClip]:
    """The clips a manifest CSV lists (``video, sign[, participant_id]``).

    Raises:
        DataError: a missing file or column, an empty sign, or a participant id that is not an
            integer, naming the manifest and the row.
    """
    manifest = Path(manifest)
    if not manifest.is_file():
        raise DataError(f"{manifest}: manifest not found")
    df = read_csv_cells(manifest, ["video", "sign"])
    has_pid = "participant_id" in df.columns
    clips = []
    for row, rec in enumerate(df.itertuples(index=False), start=2):
        video = Path(rec.video)
        if not video.is_absolute():
            video = manifest.parent / video
        sign = str(rec.sign).strip()
        if not sign:
            raise DataError(f"{manifest}: row {row}: empty sign")
        if has_pid and str(rec.participant_id).strip():
            text = str(rec.participant_id).strip()
            if not text.lstrip("-").isdigit():
                raise DataError(f"{manifest}: row {row}: participant_id {text!r} is not an integer")
            pid = int(text)
        elif participant_id is not None:
            pid = participant_id
        else:
            pid = participant_id_of(video.resolve().parent.parent.name)
        clips.append(_clip(video, sign, pid, str(rec.video)))
    if not clips:
        raise DataError(f"{manifest}: no rows")
    return drop_repeats(clips, lambda clip: clip.video, "clip")


def shard(clips: Sequence[VideoClip], index: int, count: int) -> list[VideoClip]:
    """Part ``index`` of ``count`` of the work list (round robin over the sorted clips).

    Every shard of a split run computes the same full list, so together they cover it once.
    """
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"shard {index}/{count}: need 0 <= index < count")
    ordered = sorted(clips, key=lambda c: (c.participant_id, c.sequence_id))
    return ordered[index::count]
