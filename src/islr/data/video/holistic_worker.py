"""MediaPipe Holistic worker, run by the *extraction environment's* Python, never imported by islr.

MediaPipe's wheel pins ``protobuf<5`` while TensorFlow needs ``protobuf>=6``, so landmarks are
extracted in a separate interpreter (see :mod:`islr.data.video.environment`). This file is run
there as a script and may import only the standard library, NumPy, OpenCV and MediaPipe.

Protocol (binary, on the original stdout; everything else the libraries print goes to stderr):

* ``clips`` mode: one JSON request per line on stdin, ``{"video": PATH, "stride": K,
  "max_frames": N|null}``. For each, one JSON header line is written, then, when
  ``"ok": true``, ``frames * 543 * 3`` float32 values (x, y, z; NaN where nothing was found)::

      {"ok": true, "frames": T, "decoded": D, "frame_numbers": [...], "seconds": S}
      {"ok": false, "reason": "..."}

* ``stream`` mode: frames of one source (a camera index or a file), each as a header line
  ``{"frame": N}`` followed by one ``543 * 3`` float32 frame, until the source ends.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

N_FACE, N_HAND, N_POSE = 468, 21, 33
N_LANDMARKS = N_FACE + N_HAND + N_POSE + N_HAND  # 543: face, left hand, pose, right hand


def _open_protocol_stream():
    """The real stdout for the protocol; fd 1 then points at stderr so stray prints are harmless."""
    proto = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return proto


def _points(landmarks, count: int) -> np.ndarray:
    if landmarks is None:
        return np.full((count, 3), np.nan, dtype=np.float32)
    return np.array([(p.x, p.y, p.z) for p in landmarks.landmark], dtype=np.float32)


def _frame_landmarks(results) -> np.ndarray:
    """The 543 rows of one frame in the Kaggle order (face, left hand, pose, right hand)."""
    return np.concatenate(
        [
            _points(results.face_landmarks, N_FACE),
            _points(results.left_hand_landmarks, N_HAND),
            _points(results.pose_landmarks, N_POSE),
            _points(results.right_hand_landmarks, N_HAND),
        ]
    )


class Extractor:
    """Holistic with islr's fixed settings; a fresh tracker per clip (no state leaks across)."""

    def __init__(self, model_complexity: int, mirror: bool) -> None:
        import mediapipe as mp

        self.mp = mp
        self.model_complexity = model_complexity
        self.mirror = mirror
        self._check_models()

    def _check_models(self) -> None:
        # Complexities 0 and 2 need pose models that MediaPipe downloads on first use; the wheel
        # bundles only the full (1) model and islr never downloads at run time.
        name = {0: "pose_landmark_lite", 1: "pose_landmark_full", 2: "pose_landmark_heavy"}
        model = name[self.model_complexity] + ".tflite"
        folder = os.path.join(os.path.dirname(self.mp.__file__), "modules", "pose_landmark")
        if not os.path.isfile(os.path.join(folder, model)):
            raise SystemExit(
                f"model_complexity={self.model_complexity} needs {model}, which this MediaPipe "
                "install does not bundle (islr never downloads models); use model_complexity=1"
            )

    def holistic(self):
        return self.mp.solutions.holistic.Holistic(
            static_image_mode=False,
            model_complexity=self.model_complexity,
            refine_face_landmarks=False,  # 468 face points, as in the Kaggle data
        )

    def process(self, tracker, bgr: np.ndarray) -> np.ndarray:
        import cv2

        if self.mirror:
            bgr = cv2.flip(bgr, 1)
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        rgb.flags.writeable = False
        return _frame_landmarks(tracker.process(rgb))


def _clip(extractor: Extractor, request: dict) -> tuple[dict, np.ndarray | None]:
    import cv2

    path = request["video"]
    stride = int(request.get("stride") or 1)
    max_frames = request.get("max_frames")
    if not os.path.isfile(path):
        return {"ok": False, "reason": "file does not exist"}, None
    t0 = time.perf_counter()
    capture = cv2.VideoCapture(path)
    if not capture.isOpened():
        return {"ok": False, "reason": "unreadable: not a video OpenCV can open"}, None
    frames, numbers, decoded = [], [], 0
    try:
        with extractor.holistic() as tracker:
            while max_frames is None or len(frames) < int(max_frames):
                ok, bgr = capture.read()
                if not ok or bgr is None:
                    break
                index = decoded
                decoded += 1
                if index % stride:
                    continue
                frames.append(extractor.process(tracker, bgr))
                numbers.append(index)
    finally:
        capture.release()
    if decoded == 0:
        return {"ok": False, "reason": "zero frames: the file decodes to no video frame"}, None
    data = np.stack(frames)
    if np.isnan(data).all():
        return {"ok": False, "reason": f"no person detected in any of {len(frames)} frames"}, None
    header = {
        "ok": True,
        "frames": len(frames),
        "decoded": decoded,
        "frame_numbers": numbers,
        "seconds": time.perf_counter() - t0,
    }
    return header, data


def _serve_clips(extractor: Extractor, proto) -> None:
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        try:
            header, data = _clip(extractor, request)
        except Exception as exc:  # a decoder or graph failure on one clip must not end the worker
            header, data = {"ok": False, "reason": f"extraction failed: {exc}"}, None
        proto.write((json.dumps(header) + "\n").encode())
        if data is not None:
            proto.write(np.ascontiguousarray(data, dtype=np.float32).tobytes())


def _serve_stream(extractor: Extractor, source: str, proto) -> None:
    import cv2

    capture = cv2.VideoCapture(int(source) if source.isdigit() else source)
    if not capture.isOpened():
        raise SystemExit(f"{source}: cannot open the video source")
    number = 0
    try:
        with extractor.holistic() as tracker:
            while True:
                ok, bgr = capture.read()
                if not ok or bgr is None:
                    break
                row = extractor.process(tracker, bgr)
                proto.write((json.dumps({"frame": number}) + "\n").encode())
                proto.write(np.ascontiguousarray(row, dtype=np.float32).tobytes())
                number += 1
    except BrokenPipeError:  # the reader stopped listening: a normal end of a live stream
        pass
    finally:
        capture.release()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-complexity", type=int, default=1, choices=(0, 1, 2))
    parser.add_argument("--mirror", action="store_true")
    parser.add_argument("--stream", help="camera index or video file: stream its frames")
    args = parser.parse_args()
    proto = _open_protocol_stream()
    extractor = Extractor(args.model_complexity, args.mirror)
    if args.stream is not None:
        _serve_stream(extractor, args.stream, proto)
    else:
        _serve_clips(extractor, proto)


if __name__ == "__main__":
    main()
