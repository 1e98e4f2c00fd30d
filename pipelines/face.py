"""Face detection: OpenCV's YuNet (`cv2.FaceDetectorYN`), a box and five landmarks per face, in image pixels.

    faces = detect_faces(image_rgb)      # list[FaceBox], largest first; [] when there is no face

The model is the YuNet ONNX file from the Hub (`opencv/face_detection_yunet`); in smoke mode a tiny graph with
the same inputs and outputs (pipelines/tiny/musetalk.py) is read through the same code.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass

import numpy as np

from pipelines import presets, runtime, tiny

REPO_ID = "opencv/face_detection_yunet"
FILENAME = "face_detection_yunet_2023mar.onnx"
TINY_BUILDER = "musetalk:face_detector"
CANVAS = 640          # the 2023mar graph has a fixed 640x640 input, so every image is letterboxed into it
CLOSE_UP = 300        # YuNet finds faces of about 10-300 px: bigger (or no) faces get a second pass at half size
MIN_SCORE = 0.8
NMS_IOU = 0.3


@dataclass(frozen=True)
class FaceBox:
    x1: float
    y1: float
    x2: float
    y2: float
    score: float
    landmarks: tuple[tuple[float, float], ...]  # right eye, left eye, nose tip, right/left mouth corner

    @property
    def width(self) -> float:
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        return self.y2 - self.y1

    @property
    def area(self) -> float:
        return self.width * self.height

    @property
    def nose(self) -> tuple[float, float]:
        return self.landmarks[2]


class _Detector:
    """One cv2.FaceDetectorYN; it keeps per-call state, so calls take turns."""

    def __init__(self, model_path: str) -> None:
        import cv2

        self._lock = threading.Lock()
        self._yunet = cv2.FaceDetectorYN.create(model_path, "", (CANVAS, CANVAS), 0.5, NMS_IOU, 100)

    def detect(self, canvas_bgr: np.ndarray) -> np.ndarray:
        with self._lock:
            _, rows = self._yunet.detect(canvas_bgr)
        return np.zeros((0, 15), np.float32) if rows is None else rows


@functools.cache
def _detector_for(tiny_mode: bool) -> _Detector:
    # A 230 kB CPU model kept apart from the GPU model cache, which holds one entry at a time.
    runtime.must_run_outside_gpu("load")
    path = tiny.build(TINY_BUILDER) / FILENAME if tiny_mode else runtime.fetch_file(REPO_ID, FILENAME)
    return _Detector(str(path))


def _detector() -> _Detector:
    return _detector_for(presets.tiny_mode())


def detect_faces(image_rgb: np.ndarray, min_score: float = MIN_SCORE) -> list[FaceBox]:
    """The faces in an RGB uint8 image (H, W, 3), largest first."""
    import cv2

    image = np.ascontiguousarray(image_rgb[..., ::-1])  # YuNet reads BGR
    height, width = image.shape[:2]
    rows = _pass(image, 1.0, min_score)
    tallest = max((float(r[3]) for r in rows), default=0.0) * CANVAS / max(height, width)
    if len(rows) == 0 or tallest > CLOSE_UP:
        rows = np.concatenate([rows, _pass(image, 0.5, min_score)])
    if len(rows) == 0:
        return []
    boxes = [[float(v) for v in r[:4]] for r in rows]
    keep = cv2.dnn.NMSBoxes(boxes, [float(r[14]) for r in rows], min_score, NMS_IOU)
    faces = [_face(rows[i], width, height) for i in np.asarray(keep).reshape(-1)]
    return sorted((f for f in faces if f.area > 0), key=lambda f: f.area, reverse=True)


def _pass(image_bgr: np.ndarray, fill: float, min_score: float) -> np.ndarray:
    """Detections (N, 15) in image pixels, with the image scaled to `fill` of the canvas."""
    import cv2

    height, width = image_bgr.shape[:2]
    scale = CANVAS * fill / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    canvas = np.zeros((CANVAS, CANVAS, 3), np.uint8)
    canvas[:size[1], :size[0]] = cv2.resize(image_bgr, size,
                                            interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    rows = _detector().detect(canvas)
    rows = rows[rows[:, 14] >= min_score].copy()
    rows[:, :14] /= scale  # boxes (x, y, w, h) and five (x, y) landmarks, back in image pixels
    return rows


def _face(row: np.ndarray, width: int, height: int) -> FaceBox:
    x, y, w, h = (float(v) for v in row[:4])
    marks = tuple((float(row[4 + 2 * i]), float(row[5 + 2 * i])) for i in range(5))
    return FaceBox(max(0.0, x), max(0.0, y), min(float(width), x + w), min(float(height), y + h),
                   float(row[14]), marks)
