"""Pose pieces on known keypoints: drawing, retargeting, holding, face crops, masks; and the tiny pose models."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines import dance, pose
from pipelines.pose import COLORS, K, LIMBS, Pose


def body(scale: float = 1.0, centre=(100.0, 100.0), arms_up: float = 0.0) -> Pose:
    """A standing figure whose every bone is `scale` times the unit figure's; `arms_up` raises the wrists."""
    unit = {  # offsets from the hip centre, y down
        "nose": (0, -80), "left_eye": (5, -85), "right_eye": (-5, -85), "left_ear": (10, -82), "right_ear": (-10, -82),
        "left_shoulder": (20, -60), "right_shoulder": (-20, -60), "left_elbow": (25, -30), "right_elbow": (-25, -30),
        "left_wrist": (28, -arms_up), "right_wrist": (-28, -arms_up), "left_hip": (12, 0), "right_hip": (-12, 0),
        "left_knee": (13, 40), "right_knee": (-13, 40), "left_ankle": (14, 80), "right_ankle": (-14, 80),
    }
    points = np.array([unit[name] for name in pose.KEYPOINTS], np.float32) * scale + np.asarray(centre, np.float32)
    return Pose(points, np.ones(17, np.float32), (*points.min(axis=0), *points.max(axis=0)))


def height(p: Pose) -> float:
    seen = p.points[p.seen()]
    return float(seen[:, 1].max() - seen[:, 1].min())


def hip_centre(p: Pose) -> np.ndarray:
    return (p.points[K["left_hip"]] + p.points[K["right_hip"]]) / 2


def distance_to_segment(xs, ys, a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    d = b - a
    t = np.clip(((xs - a[0]) * d[0] + (ys - a[1]) * d[1]) / (d @ d), 0, 1)
    return np.hypot(xs - (a[0] + t * d[0]), ys - (a[1] + t * d[1]))


def test_drawing_puts_each_limb_where_its_keypoints_are_in_its_colour_and_nothing_elsewhere():
    shoulder, elbow, wrist = (80.0, 80.0), (240.0, 80.0), (240.0, 240.0)
    points = np.zeros((17, 2), np.float32)
    scores = np.zeros(17, np.float32)  # only the left arm is seen
    for name, xy in (("left_shoulder", shoulder), ("left_elbow", elbow), ("left_wrist", wrist)):
        points[K[name]], scores[K[name]] = xy, 1.0
    arm = Pose(points, scores, (80, 80, 240, 240))
    frames = pose.draw([arm, None], 400, 320)
    assert frames.shape == (2, 320, 400, 3) and frames.dtype == np.uint8
    canvas = frames[0]
    upper = COLORS[LIMBS.index((K["left_shoulder"], K["left_elbow"]))]
    lower = COLORS[LIMBS.index((K["left_elbow"], K["left_wrist"]))]
    assert tuple(canvas[80, 160]) == upper   # halfway along the upper arm (horizontal)
    assert tuple(canvas[160, 240]) == lower  # halfway along the forearm (vertical)
    ys, xs = np.mgrid[0:320, 0:400]
    near = np.minimum(distance_to_segment(xs, ys, shoulder, elbow), distance_to_segment(xs, ys, elbow, wrist))
    reach = pose.limb_width(400, 320) + 1 + 2  # joint circle radius plus anti-aliasing
    assert canvas[near > reach].max() == 0   # nothing drawn away from the arm (no neck, no unseen limbs)
    assert (canvas[near <= 1].max(axis=-1) > 0).all()  # and the whole arm is drawn
    assert frames[1].max() == 0  # a frame without a pose is black


def test_a_short_character_gets_a_proportionally_shorter_skeleton_at_its_own_place():
    dancer = [body(1.0, (300, 200), arms_up=0), None, body(1.0, (320, 200), arms_up=40)]
    for scale, place in ((0.5, (80.0, 150.0)), (1.5, (150.0, 160.0))):
        character = body(scale, place)
        assert pose.body_scale(character, dancer) == pytest.approx(scale, rel=1e-3)
        moved = pose.retarget(dancer, character)
        assert moved[1] is None
        assert height(moved[0]) == pytest.approx(scale * height(dancer[0]), rel=1e-3)
        assert height(moved[2]) == pytest.approx(scale * height(dancer[2]), rel=1e-3)
        assert np.allclose(hip_centre(moved[0]), place, atol=1e-3)       # starts where the character stands
        assert np.allclose(hip_centre(moved[2]) - hip_centre(moved[0]), (20 * scale, 0), atol=1e-3)  # steps scale too


def test_retargeting_uses_the_bones_both_bodies_show():
    legs_hidden = body(0.5, (50, 50))
    scores = legs_hidden.scores.copy()
    scores[[K["left_knee"], K["right_knee"], K["left_ankle"], K["right_ankle"]]] = 0.0
    half_body = Pose(legs_hidden.points, scores, legs_hidden.box)
    assert pose.body_scale(half_body, [body(1.0), body(1.0, arms_up=30)]) == pytest.approx(0.5, rel=1e-3)


def test_frames_without_a_usable_pose_hold_the_nearest_one():
    first, second = body(1.0, (10, 10)), body(1.0, (50, 10))
    faint = Pose(first.points, np.full(17, 0.05, np.float32), first.box)
    assert not pose.usable(faint)
    assert pose.hold([None, first, faint, None, second]) == [first, first, first, first, second]


def test_face_crops_follow_the_face_keypoints():
    frames = np.zeros((2, 120, 160, 3), np.uint8)
    dancer = [body(1.0, (60, 100)), body(1.0, (100, 100))]
    for frame, p in zip(frames, dancer):  # paint each frame's head white
        x, y = p.points[K["nose"]]
        frame[int(y) - 12:int(y) + 6, int(x) - 10:int(x) + 11] = 255
    crops = pose.crop_faces(frames, dancer, 32)
    assert crops.shape == (2, 32, 32, 3)
    for crop in crops:
        assert crop[12:20, 12:20].min() == 255   # the centre of each crop is the face
        assert crop[0, 0].max() == 0             # and a face-sized crop, not the whole frame


def test_person_masks_cover_the_grown_box_and_hold_it_through_missing_frames():
    p = body(1.0, (100, 100))
    masks = pose.person_masks([p, None], 300, 300, grow=0.1)
    x0, y0, x1, y1 = p.box
    assert masks[0, int((y0 + y1) / 2), int(x0 - 0.05 * (x1 - x0))] == 255   # inside the grown margin
    assert masks[0, int(y1 + 0.2 * (y1 - y0)), int(x1)] == 0                  # beyond it
    assert np.array_equal(masks[0], masks[1])


def test_tiny_detector_and_pose_model_give_17_keypoints_per_frame():
    """The tiny models have random weights, so only the shapes and ranges are checked, not where the points are."""
    models = dance._pose_models()
    frames = np.random.default_rng(0).integers(0, 255, (3, 48, 64, 3), dtype=np.uint8)
    found = pose.extract(models, frames)
    assert len(found) == 3
    for p in found:
        assert p.points.shape == (17, 2) and p.scores.shape == (17,)
        x0, y0, x1, y1 = p.box
        assert 0 <= x0 < x1 <= 64 and 0 <= y0 < y1 <= 48
