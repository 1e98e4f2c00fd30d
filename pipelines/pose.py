"""Human pose from images: person detection, 2D keypoints, skeleton drawing, retargeting and face crops.

Detection is RT-DETR and keypoints are ViTPose (17 COCO keypoints), both through transformers, as the ViTPose
model card shows: find the person's box first, then estimate the keypoints inside it. One person per frame
(the best-scoring box): dance videos have one dancer. Skeletons are drawn OpenPose-style (coloured limbs on
black), the form pose-conditioned video models are trained on. Everything here works on numpy arrays;
torch, transformers and cv2 are imported inside the functions that need them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipelines import runtime
from pipelines.presets import AuxModel

KEYPOINTS = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
             "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
             "right_knee", "left_ankle", "right_ankle")
K = {name: i for i, name in enumerate(KEYPOINTS)}
FACE = [K[n] for n in ("nose", "left_eye", "right_eye", "left_ear", "right_ear")]
NECK = -1  # drawn between the shoulders, as OpenPose's 18-point skeleton has it

# Limbs in OpenPose order and colours (RGB), so the drawing matches what pose-driven models were trained on.
LIMBS = [
    (NECK, K["right_shoulder"]), (NECK, K["left_shoulder"]), (K["right_shoulder"], K["right_elbow"]),
    (K["right_elbow"], K["right_wrist"]), (K["left_shoulder"], K["left_elbow"]), (K["left_elbow"], K["left_wrist"]),
    (NECK, K["right_hip"]), (K["right_hip"], K["right_knee"]), (K["right_knee"], K["right_ankle"]),
    (NECK, K["left_hip"]), (K["left_hip"], K["left_knee"]), (K["left_knee"], K["left_ankle"]),
    (NECK, K["nose"]), (K["nose"], K["right_eye"]), (K["right_eye"], K["right_ear"]),
    (K["nose"], K["left_eye"]), (K["left_eye"], K["left_ear"]),
]
COLORS = [(255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0), (0, 255, 0),
          (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255), (0, 0, 255), (85, 0, 255),
          (170, 0, 255), (255, 0, 255), (255, 0, 170)]

# Bones whose lengths give a body's size; ratios of matching bones give the retargeting scale.
BONES = [(K["left_shoulder"], K["right_shoulder"]), (K["left_shoulder"], K["left_hip"]),
         (K["right_shoulder"], K["right_hip"]), (K["left_hip"], K["right_hip"]),
         (K["left_shoulder"], K["left_elbow"]), (K["left_elbow"], K["left_wrist"]),
         (K["right_shoulder"], K["right_elbow"]), (K["right_elbow"], K["right_wrist"]),
         (K["left_hip"], K["left_knee"]), (K["left_knee"], K["left_ankle"]),
         (K["right_hip"], K["right_knee"]), (K["right_knee"], K["right_ankle"])]

PERSON_THRESHOLD = 0.3    # detection score, as in the ViTPose model card's RT-DETR example
KEYPOINT_THRESHOLD = 0.3  # keypoints below this confidence are treated as not seen
MIN_KEYPOINTS = 4         # fewer confident keypoints than this is not a usable body
BATCH = 8


@dataclass(frozen=True)
class Pose:
    """One person's 17 keypoints in pixels of some frame, with confidences and the detected box."""

    points: np.ndarray                        # (17, 2) float32 x, y
    scores: np.ndarray                        # (17,) float32
    box: tuple[float, float, float, float]    # x0, y0, x1, y1

    def seen(self, threshold: float = KEYPOINT_THRESHOLD) -> np.ndarray:
        return self.scores >= threshold

    def point(self, index: int, threshold: float = KEYPOINT_THRESHOLD) -> np.ndarray | None:
        """A keypoint, or the neck (between the shoulders), or None where it was not seen."""
        if index == NECK:
            left, right = self.point(K["left_shoulder"], threshold), self.point(K["right_shoulder"], threshold)
            return None if left is None or right is None else (left + right) / 2
        return self.points[index] if self.scores[index] >= threshold else None

    def moved(self, scale: float, offset) -> Pose:
        """The same pose scaled about the origin, then shifted: p * scale + offset."""
        offset = np.asarray(offset, np.float32)
        box = np.asarray(self.box, np.float32).reshape(2, 2) * scale + offset
        return Pose((self.points * scale + offset).astype(np.float32), self.scores, tuple(box.reshape(-1).tolist()))


# ------------------------------------------------------------------------------------------------ models


@dataclass
class Models:
    detector: object
    detector_processor: object
    estimator: object
    estimator_processor: object
    person_label: int


def load(detector: AuxModel, estimator: AuxModel) -> Models:
    """The person detector and pose model (the tiny ones in smoke mode), loaded once and kept resident."""

    def load_both() -> Models:
        from transformers import AutoImageProcessor, AutoModelForObjectDetection, VitPoseForPoseEstimation

        detector_dir = runtime.hub_folder(detector.repo_id, detector.tiny_builder)
        estimator_dir = runtime.hub_folder(estimator.repo_id, estimator.tiny_builder)
        with runtime.hub_errors(detector.repo_id):
            detector_model = AutoModelForObjectDetection.from_pretrained(detector_dir).eval().to(runtime.device())
            detector_processor = AutoImageProcessor.from_pretrained(detector_dir)
        with runtime.hub_errors(estimator.repo_id):
            estimator_model = VitPoseForPoseEstimation.from_pretrained(estimator_dir).eval().to(runtime.device())
            estimator_processor = AutoImageProcessor.from_pretrained(estimator_dir)
        labels = {name.lower(): int(i) for i, name in detector_model.config.id2label.items()}
        if "person" not in labels:
            raise RuntimeError(f"The detector {detector.repo_id} has no 'person' class.")
        return Models(detector_model, detector_processor, estimator_model, estimator_processor, labels["person"])

    return runtime.cached(("pose", detector.repo_id, estimator.repo_id), load_both, size_gb=0.6)


def _extract_seconds(models: Models, frames) -> float:
    return 10.0 + 0.05 * len(frames)


@runtime.gpu_task(duration=_extract_seconds)
def extract(models: Models, frames) -> list[Pose | None]:
    """The main person's pose in each frame (uint8 RGB arrays), None where nobody was found.

    A short GPU window of its own: on ZeroGPU the two small models need the GPU, and the long denoising
    window should not be paid for while they run.
    """
    boxes = detect(models, frames)
    poses: list[Pose | None] = [None] * len(frames)
    found = [i for i, box in enumerate(boxes) if box is not None]
    for start in range(0, len(found), BATCH):
        chunk = found[start:start + BATCH]
        for i, pose in zip(chunk, estimate(models, [frames[i] for i in chunk], [boxes[i] for i in chunk])):
            poses[i] = pose
    return poses


def detect(models: Models, frames) -> list[tuple[float, float, float, float] | None]:
    """The best-scoring person box (x0, y0, x1, y1) per frame, or None."""
    import torch
    from PIL import Image

    boxes = []
    for start in range(0, len(frames), BATCH):
        images = [Image.fromarray(np.asarray(f)) for f in frames[start:start + BATCH]]
        inputs = models.detector_processor(images=images, return_tensors="pt").to(runtime.device())
        with torch.no_grad():
            outputs = models.detector(**inputs)
        sizes = [(image.height, image.width) for image in images]
        results = models.detector_processor.post_process_object_detection(
            outputs, target_sizes=sizes, threshold=PERSON_THRESHOLD)
        for result, (height, width) in zip(results, sizes):
            people = result["labels"] == models.person_label
            if not bool(people.any()):
                boxes.append(None)
                continue
            best = int(torch.argmax(torch.where(people, result["scores"], -1.0)))
            boxes.append(_inside(result["boxes"][best].tolist(), width, height))
    return boxes


def _inside(box, width: int, height: int) -> tuple[float, float, float, float]:
    """A box clipped to the frame and at least 2 px wide and tall (a degenerate box breaks the pose crop)."""
    x0, y0, x1, y1 = (float(v) for v in box)
    x0, x1 = sorted((min(max(x0, 0.0), width - 2.0), min(max(x1, 0.0), width)))
    y0, y1 = sorted((min(max(y0, 0.0), height - 2.0), min(max(y1, 0.0), height)))
    return x0, y0, max(x1, x0 + 2.0), max(y1, y0 + 2.0)


def estimate(models: Models, frames, boxes) -> list[Pose]:
    """ViTPose keypoints for one person box per frame."""
    import torch
    from PIL import Image

    images = [Image.fromarray(np.asarray(f)) for f in frames]
    coco_boxes = [[[x0, y0, x1 - x0, y1 - y0]] for x0, y0, x1, y1 in boxes]  # the processor wants x, y, w, h
    inputs = models.estimator_processor(images=images, boxes=coco_boxes, return_tensors="pt").to(runtime.device())
    with torch.no_grad():
        outputs = models.estimator(**inputs)
    results = models.estimator_processor.post_process_pose_estimation(outputs, boxes=coco_boxes)
    return [Pose(np.asarray(r[0]["keypoints"], np.float32).reshape(-1, 2), np.asarray(r[0]["scores"], np.float32)
                 .reshape(-1), tuple(box)) for r, box in zip(results, boxes)]


def usable(pose: Pose | None) -> bool:
    return pose is not None and int(pose.seen().sum()) >= MIN_KEYPOINTS


def hold(poses: list[Pose | None]) -> list[Pose | None]:
    """Frames without a usable pose (the dancer hidden, blurred, off screen) keep the nearest usable one:
    earlier frames hold the previous pose, leading frames the first, so the skeleton never blinks out."""
    kept = [p if usable(p) else None for p in poses]
    first = next((p for p in kept if p is not None), None)
    held, last = [], first
    for pose in kept:
        last = pose or last
        held.append(last)
    return held


# --------------------------------------------------------------------------------------------- drawing


def limb_width(width: int, height: int) -> int:
    return max(1, round(min(width, height) / 100))


def draw(poses: list[Pose | None], width: int, height: int) -> np.ndarray:
    """Skeleton frames (T, height, width, 3) uint8: coloured limbs and joints on black; empty where no pose."""
    import cv2

    thickness = limb_width(width, height)
    video = np.zeros((len(poses), height, width, 3), np.uint8)
    for canvas, pose in zip(video, poses):
        if pose is None:
            continue
        for (a, b), color in zip(LIMBS, COLORS):
            start, end = pose.point(a), pose.point(b)
            if start is not None and end is not None:
                cv2.line(canvas, _pixel(start), _pixel(end), color, thickness, cv2.LINE_AA)
        for index in np.flatnonzero(pose.seen()):
            cv2.circle(canvas, _pixel(pose.points[index]), thickness + 1, COLORS[index % len(COLORS)], -1, cv2.LINE_AA)
    return video


def _pixel(point) -> tuple[int, int]:
    return int(round(float(point[0]))), int(round(float(point[1])))


# ------------------------------------------------------------------------------------------ retargeting


def fit(source: tuple[int, int], target: tuple[int, int]) -> tuple[float, np.ndarray]:
    """Scale and offset that fit a (width, height) frame inside another, centred (letterboxed)."""
    scale = min(target[0] / source[0], target[1] / source[1])
    offset = (np.asarray(target, np.float32) - np.asarray(source, np.float32) * scale) / 2
    return scale, offset


def bone_lengths(pose: Pose) -> np.ndarray:
    """Length of each bone in BONES, NaN where either end was not seen."""
    seen = pose.seen()
    lengths = np.full(len(BONES), np.nan, np.float32)
    for i, (a, b) in enumerate(BONES):
        if seen[a] and seen[b]:
            lengths[i] = float(np.linalg.norm(pose.points[a] - pose.points[b]))
    return lengths


def body_scale(character: Pose, dancer: list[Pose | None]) -> float:
    """How much bigger the character's body is than the dancer's: the median ratio of matching bones.

    The dancer's bones are measured as medians over the frames (a bone seen end-on in one frame looks short).
    """
    measured = [bone_lengths(p) for p in dancer if p is not None]
    if not measured:
        return 1.0
    with np.errstate(all="ignore"):
        dancer_lengths = np.nanmedian(np.stack(measured), axis=0) if len(measured) > 1 else measured[0]
        ratios = bone_lengths(character) / dancer_lengths
    ratios = ratios[np.isfinite(ratios) & (ratios > 0)]
    return float(np.median(ratios)) if len(ratios) else 1.0


def anchor(pose: Pose, kind: str) -> np.ndarray | None:
    """The body's centre: between the hips, else between the shoulders, else the mean of what was seen."""
    if kind == "all":
        seen = pose.seen()
        return pose.points[seen].mean(axis=0) if seen.any() else None
    left, right = (K["left_hip"], K["right_hip"]) if kind == "hips" else (K["left_shoulder"], K["right_shoulder"])
    a, b = pose.point(left), pose.point(right)
    return None if a is None or b is None else (a + b) / 2


def retarget(dancer: list[Pose | None], character: Pose) -> list[Pose | None]:
    """The dancer's motion in the character's body size and place: each frame is scaled by the body ratio about
    the dancer's starting centre and moved to the character's centre, so the character starts where it stands
    and a short character gets a proportionally short skeleton."""
    first = next((p for p in dancer if p is not None), None)
    if first is None:
        return list(dancer)
    scale = float(np.clip(body_scale(character, dancer), 0.2, 5.0))  # beyond this a detection went wrong
    for kind in ("hips", "shoulders", "all"):
        start, target = anchor(first, kind), anchor(character, kind)
        if start is not None and target is not None:
            break
    else:
        start, target = np.zeros(2, np.float32), np.zeros(2, np.float32)
    offset = target - start * scale
    return [None if p is None else p.moved(scale, offset) for p in dancer]


# ----------------------------------------------------------------------------------- faces and masks


def face_boxes(poses: list[Pose | None], width: int, height: int) -> list[tuple[float, float, float]]:
    """A square (centre x, centre y, side) around each frame's face keypoints.

    Frames where the face was not seen reuse the last box; before any face, the top of the person's box.
    """
    boxes, last = [], None
    for pose in poses:
        box = _face_box(pose) if pose is not None else None
        if box is None and last is None and pose is not None:
            x0, y0, x1, _ = pose.box
            side = max(x1 - x0, 8.0) * 0.5
            box = ((x0 + x1) / 2, y0 + side / 2, side)
        last = box or last
        boxes.append(last or (width / 2, height / 4, min(width, height) / 2))
    return boxes


def _face_box(pose: Pose) -> tuple[float, float, float] | None:
    seen = [i for i in FACE if pose.scores[i] >= KEYPOINT_THRESHOLD]
    if len(seen) < 2:
        return None
    points = pose.points[seen]
    centre = points.mean(axis=0)
    spread = float(np.max(points.max(axis=0) - points.min(axis=0)))
    shoulders = [pose.point(K["left_shoulder"]), pose.point(K["right_shoulder"])]
    shoulder_width = float(np.linalg.norm(shoulders[0] - shoulders[1])) if all(s is not None for s in shoulders) else 0
    side = max(2.0 * spread, 0.8 * shoulder_width, 8.0)  # eyes and ears span about half a head
    return float(centre[0]), float(centre[1]), side


def crop_faces(frames: np.ndarray, poses: list[Pose | None], size: int) -> np.ndarray:
    """(T, size, size, 3) face crops that follow the face keypoints; outside the frame is black."""
    import cv2

    height, width = frames.shape[1:3]
    crops = np.zeros((len(frames), size, size, 3), np.uint8)
    for crop, frame, (cx, cy, side) in zip(crops, frames, face_boxes(poses, width, height)):
        scale = size / side
        # Map the square onto the output: x_out = (x - (cx - side / 2)) * scale.
        matrix = np.float32([[scale, 0, (side / 2 - cx) * scale], [0, scale, (side / 2 - cy) * scale]])
        crop[:] = cv2.warpAffine(frame, matrix, (size, size), flags=cv2.INTER_AREA, borderValue=(0, 0, 0))
    return crops


def person_masks(poses: list[Pose | None], width: int, height: int, grow: float = 0.1) -> np.ndarray:
    """(T, height, width) uint8 masks, 255 inside each frame's person box grown by `grow` on every side.

    A box rather than a segmentation: the generated character may be wider or taller than the dancer.
    Frames without a person reuse the last box.
    """
    masks = np.zeros((len(poses), height, width), np.uint8)
    last = None
    for mask, pose in zip(masks, poses):
        last = pose.box if pose is not None else last
        if last is None:
            continue
        x0, y0, x1, y1 = last
        dx, dy = (x1 - x0) * grow, (y1 - y0) * grow
        mask[max(0, int(y0 - dy)):min(height, int(np.ceil(y1 + dy))),
             max(0, int(x0 - dx)):min(width, int(np.ceil(x1 + dx)))] = 255
    return masks
