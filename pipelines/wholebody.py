"""Whole-body keypoints (133 per person: 17 body, 6 feet, 68 face, 2 x 21 hands) with the two ONNX files that
Wan 2.2 Animate ships for its preprocessing, run by onnxruntime exactly as its own preprocessing runs them.

    models = load()                                   # the detector and the pose model, kept resident
    found = extract(models, frames)                   # (T, 133, 3) x, y, score per frame (own GPU window)

The files (repo Wan-AI/Wan2.2-Animate-14B, folder process_checkpoint/):
  det/yolov10m.onnx             YOLOv10-m, input "images" (1, 3, 640, 640) RGB in 0..1, output "output0"
                                (1, 300, 6): x1, y1, x2, y2 (640 px), score, class (0 = person)
  pose2d/vitpose_h_wholebody.onnx/end2end.onnx   ViTPose-H whole-body (mmdeploy export, its weights in 393
                                external-data files beside it), input "input" (1, 3, 256, 192), output "output"
                                (1, 133, 64, 48) heatmaps
The names are those of the exporters (ultralytics, mmdeploy); like the official code we read them from the
session. In smoke mode tiny graphs with the same names, shapes and folder layout (pipelines/tiny/wholebody.py)
are read through the same code. Every rule below is from Wan2.2 wan/modules/animate/preprocess/pose2d.py
and pose2d_utils.py. numpy, cv2 and onnxruntime (onnxruntime-gpu on Linux x86-64, which runs them on CUDA
where there is a GPU: on ZeroGPU inside the GPU window, see _window).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipelines import presets, runtime, tiny

REPO_ID = "Wan-AI/Wan2.2-Animate-14B"
DETECTOR_FILE = "process_checkpoint/det/yolov10m.onnx"
POSE_FOLDER = "process_checkpoint/pose2d/vitpose_h_wholebody.onnx"  # a folder: end2end.onnx + its weights
POSE_GRAPH = POSE_FOLDER + "/end2end.onnx"                        # pose2d.py: a folder means <folder>/end2end.onnx
TINY_BUILDER = "wholebody:checkpoints"

DETECTOR_SIZE = 640            # pose2d.py Yolo: fixed 640 x 640 input, plain resize (no letterbox)
DETECTOR_MIN_SCORE = 0.05      # pose2d.py Yolo threshold_conf
DETECTOR_NMS_IOU = 0.5         # pose2d.py Yolo threshold_iou
DETECTOR_SHAPE_RATIO = 0.4     # pose2d.py Yolo threshold_bbox_shape_ratio (strict): skip much smaller boxes
PERSON_CLASS = 0               # pose2d.py Yolo cat_id=[1] compared with class + 1
POSE_INPUT = (256, 192)        # pose2d.py ViTPose.preprocess input_resolution (rows, cols)
BOX_RESCALE = 1.25             # pose2d.py ViTPose.preprocess rescale
MEAN = np.array([0.485, 0.456, 0.406])  # pose2d.py ViTPose.preprocess IMG_NORM_MEAN / STD
STD = np.array([0.229, 0.224, 0.225])
DARK_KERNEL = 11               # pose2d_utils.keypoints_from_heatmaps default kernel, unbiased (DARK) decoding
SECONDS_PER_FRAME = 0.04       # detector + ViTPose-H on a ZeroGPU H200 slice, per frame (an estimate)
SIZE_GB = 2.7                  # 62 MB detector + 2.55 GB ViTPose-H weights


@dataclass
class Models:
    detector: object           # onnxruntime.InferenceSession
    pose: object
    lock: threading.Lock       # one run at a time per session keeps memory flat on a shared GPU
    paths: tuple = ()          # the two files, to open them again on a GPU that exists only inside a window


def _providers(gpu: bool) -> list:
    """pose2d.py SimpleOnnxInference: CUDA first when there is a GPU, CPU otherwise. onnxruntime-gpu lists its
    CUDA provider even on a machine without one (a session then fails over to the CPU with an error), so CUDA is
    asked for only where torch sees a GPU; torch is imported first so its CUDA 13 and cuDNN 9 libraries, the
    ones onnxruntime-gpu 1.31 needs, are already loaded."""
    import onnxruntime

    wanted = ["CUDAExecutionProvider", "CPUExecutionProvider"] if gpu else ["CPUExecutionProvider"]
    return [p for p in wanted if p in onnxruntime.get_available_providers()] or ["CPUExecutionProvider"]


def _gpu_at_load() -> bool:
    """Whether sessions opened now can use a GPU: on local CUDA yes; on ZeroGPU no, the GPU exists only inside a
    GPU window (torch only pretends outside), so there the sessions are opened again inside it (_window)."""
    from pipelines import zerogpu

    return runtime.device() == "cuda" and not zerogpu.on_zero_gpu()


_window_sessions: dict = {}    # per process: ZeroGPU runs each window in a worker process of its own


def _window(models: Models) -> Models:
    """The sessions to run inside a GPU window: on ZeroGPU, CUDA sessions of the same files opened in the
    window's process (once per worker); elsewhere the resident ones."""
    import os

    from pipelines import zerogpu

    if not models.paths or not zerogpu.on_zero_gpu() or "CUDAExecutionProvider" not in _providers(True):
        return models
    key = (os.getpid(), models.paths)
    if key not in _window_sessions:
        import onnxruntime

        runtime.device()  # imports torch: its CUDA libraries for onnxruntime
        _window_sessions[key] = Models(*(onnxruntime.InferenceSession(str(path), providers=_providers(True))
                                         for path in models.paths), models.lock, models.paths)
    return _window_sessions[key]


def files(tiny_mode: bool) -> tuple[Path, Path]:
    """The detector file and the pose graph (its weights beside it): the real ones, or the tiny stand-ins."""
    if tiny_mode:
        root = tiny.build(TINY_BUILDER)
        return root / DETECTOR_FILE, root / POSE_GRAPH
    detector = runtime.fetch_file(REPO_ID, DETECTOR_FILE)
    # The pose model is a folder of 394 files, so the whole folder comes down, through the same Hub cache.
    pose_root = runtime.hub_folder(REPO_ID, TINY_BUILDER, allow_patterns=[POSE_FOLDER + "/*"])
    return detector, pose_root / POSE_GRAPH


def load() -> Models:
    """Both sessions, loaded once (outside any GPU window) and kept resident."""

    def sessions() -> Models:
        import onnxruntime

        detector, pose = files(presets.tiny_mode())
        providers = _providers(_gpu_at_load())
        with runtime.hub_errors(REPO_ID):
            return Models(onnxruntime.InferenceSession(str(detector), providers=providers),
                          onnxruntime.InferenceSession(str(pose), providers=providers), threading.Lock(),
                          (detector, pose))

    return runtime.cached(("wholebody", REPO_ID), sessions, size_gb=SIZE_GB)


def window_seconds(frames: int) -> float:
    """The GPU window asked for the keypoints of `frames` frames: start-up plus both models per frame."""
    return 10.0 + SECONDS_PER_FRAME * frames


def _extract_seconds(models: Models, frames, boxes=None) -> float:
    return window_seconds(len(frames))


@runtime.gpu_task(duration=_extract_seconds)
def extract(models: Models, frames, boxes=None) -> tuple[np.ndarray, np.ndarray]:
    """(T, 133, 3) keypoints of the main person per RGB uint8 frame (x, y in frame pixels, score), and the
    (T, 5) person boxes they were read in (x1, y1, x2, y2, score; score -1 where the whole frame was used).

    A GPU window of its own: on ZeroGPU the two models need the GPU, and the long denoising window should not
    be paid for while they run. Given `boxes`, the detector is skipped (MuseTalk reads landmarks that way).
    """
    points = np.zeros((len(frames), 133, 3), np.float32)
    used = np.zeros((len(frames), 5), np.float64)
    models = _window(models)
    with models.lock:
        for i, frame in enumerate(frames):
            frame = np.asarray(frame)
            used[i] = person_box(models, frame) if boxes is None else boxes[i]
            points[i] = keypoints(models, frame, used[i])
    return points, used


# ----------------------------------------------------------------------------------------------- detector


def person_box(models: Models, frame: np.ndarray) -> np.ndarray:
    """x1, y1, x2, y2, score of the person the official detector picks; the whole frame (score -1) if none."""
    import cv2

    height, width = frame.shape[:2]
    image = cv2.resize(frame, (DETECTOR_SIZE, DETECTOR_SIZE))  # RGB, as Yolo.preprocess hands it on
    tensor = (image / 255.0).transpose(2, 0, 1)[None].astype(np.float32)
    session = models.detector
    rows = session.run(None, {session.get_inputs()[0].name: tensor})[0].reshape(-1, 6)
    return choose_person(rows, width, height)


def choose_person(rows: np.ndarray, width: int, height: int) -> np.ndarray:
    """Yolo.postprocess + process_results on (N, 6) detections in 640-px units: score threshold, boxes to
    image pixels (whole pixels), NMS, then the largest person box, skipping boxes under 0.4 of the largest side."""
    import cv2

    whole = np.array([0.0, 0.0, float(width), float(height), -1.0])
    rows = rows[rows[:, 4] >= DETECTOR_MIN_SCORE]
    if not len(rows):
        return whole
    boxes = rows[:, :4] * [width / DETECTOR_SIZE, height / DETECTOR_SIZE, width / DETECTOR_SIZE,
                           height / DETECTOR_SIZE]
    boxes[:, 2:] -= boxes[:, :2]
    boxes = boxes.astype(np.int32)  # x, y, w, h
    keep = np.asarray(cv2.dnn.NMSBoxes(boxes.tolist(), rows[:, 4].tolist(), DETECTOR_MIN_SCORE,
                                       DETECTOR_NMS_IOU)).reshape(-1)
    found = np.array([[*boxes[i, :2], *(boxes[i, :2] + boxes[i, 2:]), rows[i, 4], rows[i, 5]] for i in keep],
                     np.float64).reshape(-1, 6)
    people = found[(found[:, 5] == PERSON_CLASS) & (found[:, 4] > DETECTOR_MIN_SCORE)]
    if not len(people):
        return whole
    sides = np.maximum(people[:, 2] - people[:, 0], people[:, 3] - people[:, 1])
    best, best_area, best_side = -1, -10.0 * width * height, sides.max()
    for i, (box, side) in enumerate(zip(people, sides)):
        area = (box[2] - box[0]) * (box[3] - box[1])
        if area > best_area:
            if side < best_side * DETECTOR_SHAPE_RATIO:
                continue
            best, best_area, best_side = i, area, side
    return people[best, :5] if best >= 0 else whole


# --------------------------------------------------------------------------------------------- pose model


def crop_box(box: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """pose2d_utils.bbox_from_detector: the centre and the (width, height) in pixels the pose model sees."""
    x1, y1, x2, y2 = box[:4]
    if box[-1] <= 0 or x2 - x1 < 10 or y2 - y1 < 10:  # ViTPose.preprocess: no usable box means the whole image
        x1, y1, x2, y2 = 0.0, 0.0, float(width), float(height)
    aspect = POSE_INPUT[0] / POSE_INPUT[1]
    size = max((x2 - x1) * aspect, y2 - y1)
    centre = np.array([(x1 + x2) / 2.0, (y1 + y2) / 2.0])
    return centre, np.array([size / aspect, size]) * BOX_RESCALE


def _corner(point, centre, height: float, invert: bool) -> np.ndarray:
    """pose2d_utils.transform for the crop corners: the 1-based pixel mapping with rounding."""
    rows, cols = POSE_INPUT
    w = height / (rows / cols)
    t = np.array([[cols / w, 0, cols * (-centre[0] / w + 0.5)], [0, rows / height, rows * (-centre[1] / height + 0.5)],
                  [0, 0, 1]])
    if invert:
        t = np.linalg.inv(t)
    p = t @ np.array([point[0] - 1, point[1] - 1, 1.0])
    return np.array([round(p[0]), round(p[1])], int) + 1


def crop(image: np.ndarray, centre: np.ndarray, size: np.ndarray) -> np.ndarray:
    """pose2d_utils.crop: the box cut out whole-pixel (black outside the image), resized to 192 x 256."""
    import cv2

    rows, cols = POSE_INPUT
    top_left = _corner([1, 1], centre, size[1], True) - 1
    bottom_right = _corner([cols + 1, rows + 1], centre, size[1], True) - 1
    out = np.zeros((bottom_right[1] - top_left[1], bottom_right[0] - top_left[0], 3), np.float32)
    h, w = image.shape[:2]
    nx = max(0, -top_left[0]), min(bottom_right[0], w) - top_left[0]
    ny = max(0, -top_left[1]), min(bottom_right[1], h) - top_left[1]
    ox = max(0, top_left[0]), min(w, bottom_right[0])
    oy = max(0, top_left[1]), min(h, bottom_right[1])
    if nx[1] > nx[0] and ny[1] > ny[0]:
        out[ny[0]:ny[1], nx[0]:nx[1]] = image[oy[0]:oy[1], ox[0]:ox[1]]
    return cv2.resize(out, (cols, rows))


def keypoints(models: Models, frame: np.ndarray, box: np.ndarray) -> np.ndarray:
    """(133, 3) keypoints for one person box of an RGB frame."""
    height, width = frame.shape[:2]
    centre, size = crop_box(np.asarray(box, np.float64), width, height)
    # The official pipeline hands ViTPose the frame with its channels swapped (Pose2d.load_images converts
    # "BGR to RGB" frames that already are RGB) and normalises with the RGB mean: the keypoints Wan-Animate
    # was made with come from that input, so it is kept.
    pixels = crop(frame[..., ::-1], centre, size)
    tensor = ((pixels / 255.0 - MEAN) / STD).transpose(2, 0, 1)[None].astype(np.float32)
    session = models.pose
    heatmaps = session.run(None, {session.get_inputs()[0].name: tensor})[0]
    points, scores = decode(heatmaps[0], centre, size)
    return np.concatenate([points, scores[:, None]], axis=1).astype(np.float32)


def decode(heatmaps: np.ndarray, centre: np.ndarray, size: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """pose2d_utils.keypoints_from_heatmaps(unbiased=True): the peak of each (H, W) heatmap refined by DARK
    (Gaussian-modulated log heatmap, one Newton step), mapped back to image pixels. Returns (K, 2), (K,)."""
    import cv2

    heatmaps = np.array(heatmaps, np.float32)
    count, rows, cols = heatmaps.shape
    flat = heatmaps.reshape(count, -1)
    index, scores = flat.argmax(1), flat.max(1)
    peaks = np.stack([index % cols, index // cols], 1).astype(np.float64)
    peaks[scores <= 0] = -1
    # _gaussian_blur: each heatmap blurred as if inside a black border (the 11-tap kernel of cv2), then
    # rescaled to its old maximum. As band matrices: blurred = Gy @ heatmap @ Gx.T, the same sums.
    taps = cv2.getGaussianKernel(DARK_KERNEL, 0).ravel()
    blurred = (_band(rows, taps) @ heatmaps @ _band(cols, taps).T).reshape(count, -1)
    peak = blurred.max(1)
    blurred *= np.where(peak != 0, scores / np.where(peak != 0, peak, 1), 1)[:, None]
    logged = np.log(np.maximum(blurred, 1e-10)).reshape(count, rows, cols)
    peaks = _taylor(logged, peaks)
    scale = size / np.array([cols, rows])
    return peaks * scale + centre - size * 0.5, scores


def _band(size: int, taps: np.ndarray) -> np.ndarray:
    """(size, size) matrix that convolves a zero-padded signal with the centred kernel `taps`."""
    radius = len(taps) // 2
    band = np.zeros((size, size), np.float32)
    for offset, tap in zip(range(-radius, radius + 1), taps):
        band += np.eye(size, k=offset, dtype=np.float32) * tap
    return band


def _taylor(heatmaps: np.ndarray, coords: np.ndarray) -> np.ndarray:
    """pose2d_utils._taylor for every keypoint at once: one Newton step on the log heatmap around the peak."""
    count, rows, cols = heatmaps.shape
    px, py = coords[:, 0].astype(int), coords[:, 1].astype(int)
    inside = (px > 1) & (px < cols - 2) & (py > 1) & (py < rows - 2)
    k, x, y = np.flatnonzero(inside), px[inside], py[inside]

    def at(dx, dy):
        return heatmaps[k, y + dy, x + dx].astype(np.float64)

    dx = 0.5 * (at(1, 0) - at(-1, 0))
    dy = 0.5 * (at(0, 1) - at(0, -1))
    dxx = 0.25 * (at(2, 0) - 2 * at(0, 0) + at(-2, 0))
    dxy = 0.25 * (at(1, 1) - at(1, -1) - at(-1, 1) + at(-1, -1))
    dyy = 0.25 * (at(0, 2) - 2 * at(0, 0) + at(0, -2))
    det = dxx * dyy - dxy ** 2
    solvable = det != 0
    safe = np.where(solvable, det, 1.0)
    # -inverse(Hessian) @ gradient, written out for 2 x 2
    offset_x = -(dyy * dx - dxy * dy) / safe
    offset_y = -(-dxy * dx + dxx * dy) / safe
    coords = coords.copy()
    coords[k[solvable], 0] += offset_x[solvable]
    coords[k[solvable], 1] += offset_y[solvable]
    return coords
