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
  ``{"frame": N}`` followed by one ``543 * 3`` float32 frame, until the source ends. With
  ``--show`` / ``--record FILE`` the frames are also drawn with their landmarks and the latest
  caption line read from stdin (islr sends the current prediction there).
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

    def process(self, tracker, bgr: np.ndarray, flipped: bool = False) -> np.ndarray:
        """Landmarks of one BGR frame (mirrored first unless the caller already did)."""
        import cv2

        if self.mirror and not flipped:
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


COLOURS = {"face": (200, 200, 200), "hand": (0, 200, 255), "pose": (255, 160, 0)}  # BGR


class Annotator:
    """Draws the landmarks and the latest caption on each frame; shows and/or records them.

    Captions (the current prediction) arrive as text lines on stdin from islr, read by a
    background thread, so drawing never waits for the model.
    """

    def __init__(self, show: bool, record: str | None, fps: float) -> None:
        import threading

        import cv2

        self.cv2 = cv2
        self.show = show
        self.record = record
        self.fps = fps if fps and fps > 0 else 30.0
        self.writer = None
        self.caption = ""
        if show:
            try:
                cv2.namedWindow("islr")
            except cv2.error:
                raise SystemExit(
                    "--show needs an OpenCV build with GUI support (the extraction environment "
                    "has the headless one): use --record FILE.mp4, or install "
                    "opencv-contrib-python into the extraction environment"
                ) from None
        threading.Thread(target=self._read_captions, daemon=True).start()

    def _read_captions(self) -> None:
        for line in sys.stdin:
            self.caption = line.rstrip("\n")

    def _points(self, img: np.ndarray, pts: np.ndarray, colour, radius: int) -> None:
        h, w = img.shape[:2]
        for x, y, _ in pts:
            if np.isfinite(x) and np.isfinite(y):
                self.cv2.circle(img, (int(x * w), int(y * h)), radius, colour, -1)

    def __call__(self, bgr: np.ndarray, row: np.ndarray) -> bool:
        """Annotate one frame; False once the viewer asked to stop (q in the window)."""
        cv2 = self.cv2
        img = bgr.copy()
        self._points(img, row[:N_FACE:4], COLOURS["face"], 1)
        self._points(img, row[N_FACE : N_FACE + N_HAND], COLOURS["hand"], 4)
        self._points(img, row[N_FACE + N_HAND : N_FACE + N_HAND + N_POSE], COLOURS["pose"], 3)
        self._points(img, row[N_FACE + N_HAND + N_POSE :], COLOURS["hand"], 4)
        if self.caption:
            cv2.rectangle(img, (0, 0), (img.shape[1], 40), (0, 0, 0), -1)
            cv2.putText(
                img, self.caption, (10, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 255), 2
            )
        if self.record:
            if self.writer is None:
                size = (img.shape[1], img.shape[0])
                self.writer = cv2.VideoWriter(
                    self.record, cv2.VideoWriter_fourcc(*"mp4v"), self.fps, size
                )
                if not self.writer.isOpened():
                    raise SystemExit(f"{self.record}: cannot write a video there")
            self.writer.write(img)
        if self.show:
            cv2.imshow("islr", img)
            if cv2.waitKey(1) & 0xFF == ord("q"):
                return False
        return True

    def close(self) -> None:
        if self.writer is not None:
            self.writer.release()
        if self.show:
            self.cv2.destroyAllWindows()


def _serve_stream(extractor: Extractor, source: str, proto, annotator_args: dict) -> None:
    import cv2

    capture = cv2.VideoCapture(int(source) if source.isdigit() else source)
    if not capture.isOpened():
        raise SystemExit(f"{source}: cannot open the video source")
    annotator = None
    if annotator_args["show"] or annotator_args["record"]:
        annotator = Annotator(fps=capture.get(cv2.CAP_PROP_FPS), **annotator_args)
    number = 0
    try:
        with extractor.holistic() as tracker:
            while True:
                ok, bgr = capture.read()
                if not ok or bgr is None:
                    break
                if extractor.mirror:
                    bgr = cv2.flip(bgr, 1)
                row = extractor.process(tracker, bgr, flipped=True)
                proto.write((json.dumps({"frame": number}) + "\n").encode())
                proto.write(np.ascontiguousarray(row, dtype=np.float32).tobytes())
                number += 1
                if annotator is not None and not annotator(bgr, row):
                    break
    except BrokenPipeError:  # the reader stopped listening: a normal end of a live stream
        pass
    finally:
        capture.release()
        if annotator is not None:
            annotator.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-complexity", type=int, default=1, choices=(0, 1, 2))
    parser.add_argument("--mirror", action="store_true")
    parser.add_argument("--stream", help="camera index or video file: stream its frames")
    parser.add_argument("--show", action="store_true", help="stream: show annotated frames")
    parser.add_argument("--record", help="stream: write the annotated frames to this video")
    args = parser.parse_args()
    proto = _open_protocol_stream()
    extractor = Extractor(args.model_complexity, args.mirror)
    if args.stream is not None:
        _serve_stream(extractor, args.stream, proto, {"show": args.show, "record": args.record})
    else:
        _serve_clips(extractor, proto)


if __name__ == "__main__":
    main()
