"""Human pose from images: whole-body keypoints, skeleton drawing, retargeting and face crops.

Keypoints are the 133 whole-body points (COCO-WholeBody order: 17 body, 6 feet, 68 face, 21 left hand,
21 right hand) of Wan 2.2 Animate's own preprocessing models (pipelines/wholebody.py). One person per frame:
dance videos have one dancer. Skeletons are drawn exactly as Wan-Animate's preprocessing draws them
(Wan2.2 wan/modules/animate/preprocess/human_visualization.py, draw_aapose_new), the pictures the model was
trained on. Everything here works on numpy arrays; cv2 is imported inside the functions that need it.
"""

from __future__ import annotations

import colorsys
import warnings
from dataclasses import dataclass

import numpy as np

from pipelines import wholebody

KEYPOINTS = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
             "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
             "right_knee", "left_ankle", "right_ankle")  # the first 17 of the 133, as in COCO
K = {name: i for i, name in enumerate(KEYPOINTS)}
WHOLE_BODY = 133
FACE = slice(23, 91)          # the 68 face landmarks
LEFT_HAND, RIGHT_HAND = slice(91, 112), slice(112, 133)

# pose2d_utils.split_kp2ds_for_aa: the 20 drawn body points (OpenPose 18 + left toe + right toe), each the mean
# of two whole-body points (the neck between the shoulders, a toe between the big and small toe; score too).
BODY_FROM = (np.array([0, 6, 6, 8, 10, 5, 7, 9, 12, 14, 16, 11, 13, 15, 2, 1, 4, 3, 17, 20]),
             np.array([0, 5, 6, 8, 10, 5, 7, 9, 12, 14, 16, 11, 13, 15, 2, 1, 4, 3, 18, 21]))
BODY_NAMES = ("nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
              "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
              "right_eye", "left_eye", "right_ear", "left_ear", "left_toe", "right_toe")
# human_visualization.draw_aapose_new: limbs as 1-based pairs of the 20 points, then 20 colours (RGB) used
# for the limbs (at 60 %) and for the joints (full) in the same index order.
LIMBS = ((2, 3), (2, 6), (3, 4), (4, 5), (6, 7), (7, 8), (2, 9), (9, 10), (10, 11), (2, 12), (12, 13), (13, 14),
         (2, 1), (1, 15), (15, 17), (1, 16), (16, 18), (14, 19), (11, 20))
COLORS = ((255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0), (0, 255, 0),
          (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255), (0, 0, 255), (85, 0, 255),
          (170, 0, 255), (255, 0, 255), (255, 0, 170), (255, 0, 85), (200, 200, 0), (100, 100, 0))
LIMB_SHADE = 0.6              # draw_aapose_new: limb colour int(c * 0.6)
# draw_handpose_new: 20 finger bones, coloured around the HSV hue circle; joints blue.
HAND_EDGES = ((0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (0, 9), (9, 10), (10, 11), (11, 12),
              (0, 13), (13, 14), (14, 15), (15, 16), (0, 17), (17, 18), (18, 19), (19, 20))
HAND_JOINT = (0, 0, 255)
THRESHOLD = 0.5               # draw_aapose_by_meta_new: keypoints scored below this are not drawn
FACE_AREA_SCALE = 1.3         # process_pipepline.py: get_face_bboxes(..., scale=1.3)

# Bones whose lengths give a body's size; ratios of matching bones give the retargeting scale.
BONES = [(K["left_shoulder"], K["right_shoulder"]), (K["left_shoulder"], K["left_hip"]),
         (K["right_shoulder"], K["right_hip"]), (K["left_hip"], K["right_hip"]),
         (K["left_shoulder"], K["left_elbow"]), (K["left_elbow"], K["left_wrist"]),
         (K["right_shoulder"], K["right_elbow"]), (K["right_elbow"], K["right_wrist"]),
         (K["left_hip"], K["left_knee"]), (K["left_knee"], K["left_ankle"]),
         (K["right_hip"], K["right_knee"]), (K["right_knee"], K["right_ankle"])]

MIN_KEYPOINTS = 4             # fewer confident body keypoints than this is not a usable body


@dataclass(frozen=True)
class Pose:
    """One person's 133 whole-body keypoints in pixels of some frame, with confidences and the detected box."""

    points: np.ndarray                        # (133, 2) float32 x, y
    scores: np.ndarray                        # (133,) float32
    box: tuple[float, float, float, float]    # x0, y0, x1, y1

    @classmethod
    def from_body(cls, points, scores, box=None) -> Pose:
        """A pose from the 17 COCO body points only (feet, face and hands unseen)."""
        full, seen = np.zeros((WHOLE_BODY, 2), np.float32), np.zeros(WHOLE_BODY, np.float32)
        full[:17], seen[:17] = points, scores
        if box is None:
            box = (*np.asarray(points).min(axis=0), *np.asarray(points).max(axis=0))
        return cls(full, seen, tuple(float(v) for v in box))

    def seen(self, threshold: float = THRESHOLD) -> np.ndarray:
        return self.scores >= threshold

    def point(self, index: int, threshold: float = THRESHOLD) -> np.ndarray | None:
        """A keypoint, or None where it was not seen."""
        return self.points[index] if self.scores[index] >= threshold else None

    def body(self) -> tuple[np.ndarray, np.ndarray]:
        """The 20 drawn body points (20, 2) and their scores (20,)."""
        a, b = BODY_FROM
        return (self.points[a] + self.points[b]) / 2, (self.scores[a] + self.scores[b]) / 2

    def moved(self, scale: float, offset) -> Pose:
        """The same pose scaled about the origin, then shifted: p * scale + offset."""
        offset = np.asarray(offset, np.float32)
        box = np.asarray(self.box, np.float32).reshape(2, 2) * scale + offset
        return Pose((self.points * scale + offset).astype(np.float32), self.scores, tuple(box.reshape(-1).tolist()))


# ------------------------------------------------------------------------------------------------ models


def load():
    """The detector and whole-body pose model (the tiny ones in smoke mode), loaded once and kept resident."""
    return wholebody.load()


def extract(models, frames) -> list[Pose]:
    """The main person's pose in each frame (uint8 RGB arrays), in one GPU window of its own."""
    found, boxes = wholebody.extract(models, frames)
    return [Pose(k[:, :2].copy(), k[:, 2].copy(), tuple(float(v) for v in box[:4])) for k, box in zip(found, boxes)]


def usable(pose: Pose | None) -> bool:
    return pose is not None and int(pose.seen()[:17].sum()) >= MIN_KEYPOINTS


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


def stick_width(width: int, height: int) -> int:
    """draw_aapose_new, stickwidth_type 'v2': the half-thickness of limbs and the radius of joints."""
    return max(int(min(height, width) / 200) - 1, 1)


def hand_width(width: int, height: int) -> int:
    """draw_handpose_new, 'v2': finger lines and joints, half the body's stick width."""
    return max(stick_width(width, height) // 2, 1)


def hand_colors() -> list[tuple[float, float, float]]:
    """draw_handpose_new: bone i has hue i / 20 at full saturation and value, scaled to 0..255."""
    return [tuple(c * 255 for c in colorsys.hsv_to_rgb(i / len(HAND_EDGES), 1.0, 1.0)) for i in range(len(HAND_EDGES))]


def draw(poses: list[Pose | None], width: int, height: int) -> np.ndarray:
    """Skeleton frames (T, height, width, 3) uint8 RGB, drawn as draw_aapose_new draws them; black without a pose."""
    video = np.zeros((len(poses), height, width, 3), np.uint8)
    for canvas, pose in zip(video, poses):
        if pose is not None:
            draw_pose(canvas, pose)
    return video


def draw_pose(canvas: np.ndarray, pose: Pose, threshold: float = THRESHOLD) -> None:
    import math

    import cv2

    height, width = canvas.shape[:2]
    stick = stick_width(width, height)
    points, scores = pose.body()
    for (a, b), color in zip(LIMBS, COLORS):  # limbs: filled ellipses from joint to joint, colour at 60 %
        if scores[a - 1] < threshold or scores[b - 1] < threshold:
            continue
        (x1, y1), (x2, y2) = points[a - 1], points[b - 1]
        length = math.hypot(x1 - x2, y1 - y2)
        angle = math.degrees(math.atan2(y1 - y2, x1 - x2))
        polygon = cv2.ellipse2Poly((int((x1 + x2) / 2), int((y1 + y2) / 2)), (int(length / 2), stick), int(angle),
                                   0, 360, 1)
        cv2.fillConvexPoly(canvas, polygon, [int(float(c) * LIMB_SHADE) for c in color])
    for (x, y), score, color in zip(points, scores, COLORS):  # joints: full colour, in OpenPose index order
        if score >= threshold:
            cv2.circle(canvas, (int(x), int(y)), stick, color, thickness=-1)
    for hand in (LEFT_HAND, RIGHT_HAND):
        _draw_hand(canvas, pose.points[hand], pose.scores[hand], hand_width(width, height), threshold)


def _draw_hand(canvas: np.ndarray, points: np.ndarray, scores: np.ndarray, thickness: int, threshold: float) -> None:
    import cv2

    eps = 0.01  # draw_handpose_new skips points at the canvas's top or left edge (unset points sit at 0, 0)
    for (a, b), color in zip(HAND_EDGES, hand_colors()):
        if scores[a] < threshold or scores[b] < threshold:
            continue
        x1, y1, x2, y2 = int(points[a][0]), int(points[a][1]), int(points[b][0]), int(points[b][1])
        if x1 > eps and y1 > eps and x2 > eps and y2 > eps:
            cv2.line(canvas, (x1, y1), (x2, y2), color, thickness=thickness)
    for (x, y), score in zip(points, scores):
        if score >= threshold and int(x) > eps and int(y) > eps:
            cv2.circle(canvas, (int(x), int(y)), thickness, HAND_JOINT, thickness=-1)


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
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a bone never seen has an all-NaN column
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


def face_box(pose: Pose, width: int, height: int) -> tuple[int, int, int, int]:
    """utils.get_face_bboxes: the box of the 68 face landmarks, its area enlarged 1.3 times at the same aspect,
    a quarter of the added height below and three quarters above, clipped to the frame, whole pixels.
    Returns x1, x2, y1, y2 (the official order)."""
    face = pose.points[FACE].astype(np.float64)
    (min_x, min_y), (max_x, max_y) = face.min(axis=0), face.max(axis=0)
    w, h = max_x - min_x, max_y - min_y
    if w <= 0 or h <= 0:  # a collapsed face (all points in one place) has no aspect: keep the points' box
        return int(max(min_x, 0)), int(min(max_x, width)), int(max(min_y, 0)), int(min(max_y, height))
    area = w * h * FACE_AREA_SCALE
    grow_x = (np.sqrt(area * w / h) - w) / 2
    grow_y = (np.sqrt(area * h / w) - h) / 4
    return (int(max(min_x - grow_x, 0)), int(min(max_x + grow_x, width)), int(max(min_y - 3 * grow_y, 0)),
            int(min(max_y + grow_y, height)))


def crop_faces(frames: np.ndarray, poses: list[Pose | None], size: int) -> np.ndarray:
    """(T, size, size, 3): each frame's face box (face_box) resized to a square, as process_pipepline.py
    does (cv2.resize to 512 x 512 whatever the box's aspect). A frame without a usable box reuses the last one."""
    import cv2

    height, width = frames.shape[1:3]
    crops = np.zeros((len(frames), size, size, 3), np.uint8)
    last = (0, width, 0, height)
    for crop, frame, pose in zip(crops, frames, poses):
        box = face_box(pose, width, height) if pose is not None else last
        x1, x2, y1, y2 = box if box[1] > box[0] and box[3] > box[2] else last
        last = (x1, x2, y1, y2)
        crop[:] = cv2.resize(frame[y1:y2, x1:x2], (size, size))
    return crops


MASK_KERNEL, MASK_ITERATIONS = 7, 3   # preprocess_data.py defaults --k 7, --iterations 3
MASK_GRID = (1, 1)                    # preprocess_data.py defaults --w_len 1, --h_len 1


def augment_mask(mask: np.ndarray, kernel: int = MASK_KERNEL, iterations: int = MASK_ITERATIONS,
                 grid: tuple[int, int] = MASK_GRID) -> np.ndarray:
    """utils.get_mask_body_img + get_aug_mask on a 0/1 mask: dilate with a k x k square `iterations` times,
    then split the mask's bounding box into a w_len x h_len grid and fill every cell the mask touches."""
    import cv2

    grown = cv2.dilate(mask.astype(np.uint8), np.ones((kernel, kernel), np.uint8), iterations=iterations)
    ys, xs = np.nonzero(grown)
    if not len(xs):
        return grown
    x0, x1, y0, y1 = xs.min(), xs.max(), ys.min(), ys.max()
    step_x, step_y = max(1, int((x1 - x0) / grid[0])), max(1, int((y1 - y0) / grid[1]))
    for cx in range(x0, x1, step_x):  # the official loops stop short of the box's last row and column
        for cy in range(y0, y1, step_y):
            cell = (slice(cy, min(cy + step_y, y1)), slice(cx, min(cx + step_x, x1)))
            if grown[cell].any():
                grown[cell] = 1
    return grown
