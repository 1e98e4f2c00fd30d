"""Pose pieces on known keypoints: drawing, retargeting, holding, face crops, masks; and the tiny pose models.

The drawing and crop expectations are worked out by hand from Wan2.2's preprocessing
(wan/modules/animate/preprocess/human_visualization.py draw_aapose_new, utils.py get_face_bboxes), not
from our own output.
"""

from __future__ import annotations

import numpy as np
import pytest

from pipelines import dance, pose
from pipelines.pose import K, Pose


def body(scale: float = 1.0, centre=(100.0, 100.0), arms_up: float = 0.0) -> Pose:
    """A standing figure whose every bone is `scale` times the unit figure's; `arms_up` raises the wrists."""
    unit = {  # offsets from the hip centre, y down
        "nose": (0, -80), "left_eye": (5, -85), "right_eye": (-5, -85), "left_ear": (10, -82), "right_ear": (-10, -82),
        "left_shoulder": (20, -60), "right_shoulder": (-20, -60), "left_elbow": (25, -30), "right_elbow": (-25, -30),
        "left_wrist": (28, -arms_up), "right_wrist": (-28, -arms_up), "left_hip": (12, 0), "right_hip": (-12, 0),
        "left_knee": (13, 40), "right_knee": (-13, 40), "left_ankle": (14, 80), "right_ankle": (-14, 80),
    }
    points = np.array([unit[name] for name in pose.KEYPOINTS], np.float32) * scale + np.asarray(centre, np.float32)
    return Pose.from_body(points, np.ones(17, np.float32))


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


# A T-pose at 1280 x 720, in COCO-WholeBody indices (0-16 body, 17-22 feet): x, y.
T_POSE = {0: (640, 100), 2: (610, 80), 1: (670, 80), 4: (570, 90), 3: (710, 90), 6: (540, 200), 5: (740, 200),
          8: (400, 200), 10: (260, 200), 7: (880, 200), 9: (1020, 200), 12: (580, 420), 11: (700, 420),
          14: (560, 540), 16: (540, 660), 13: (720, 540), 15: (740, 660),
          17: (780, 700), 18: (760, 700), 20: (500, 700), 21: (520, 700)}
# Each limb's midpoint and its colour at 60 % (int(c * 0.6) of draw_aapose_new's colour list), by hand.
LIMB_MIDPOINTS = [
    ("neck-right shoulder", (590, 200), (153, 0, 0)), ("neck-left shoulder", (690, 200), (153, 51, 0)),
    ("right upper arm", (470, 200), (153, 102, 0)), ("right forearm", (330, 200), (153, 153, 0)),
    ("left upper arm", (810, 200), (102, 153, 0)), ("left forearm", (950, 200), (51, 153, 0)),
    ("neck-right hip", (610, 310), (0, 153, 0)), ("right thigh", (570, 480), (0, 153, 51)),
    ("right shin", (550, 600), (0, 153, 102)), ("neck-left hip", (670, 310), (0, 153, 153)),
    ("left thigh", (710, 480), (0, 102, 153)), ("left shin", (730, 600), (0, 51, 153)),
    ("neck-nose", (640, 150), (0, 0, 153)), ("nose-right eye", (625, 90), (51, 0, 153)),
    ("right eye-ear", (590, 85), (102, 0, 153)), ("nose-left eye", (655, 90), (153, 0, 153)),
    ("left eye-ear", (690, 85), (153, 0, 102)), ("left ankle-toe", (755, 680), (153, 0, 51)),
    ("right ankle-toe", (525, 680), (120, 120, 0)),  # 19 limbs zip with the first 19 of 20 colours
]
# Joints in full colour, in OpenPose order (0 nose ... 17 left ear, 18 left toe, 19 right toe).
JOINTS = [("nose", (640, 100), (255, 0, 0)), ("neck", (640, 200), (255, 85, 0)),
          ("right shoulder", (540, 200), (255, 170, 0)), ("left shoulder", (740, 200), (85, 255, 0)),
          ("right eye", (610, 80), (170, 0, 255)), ("left eye", (670, 80), (255, 0, 255)),
          ("right ear", (570, 90), (255, 0, 170)), ("left ear", (710, 90), (255, 0, 85)),
          ("left toe", (770, 700), (200, 200, 0)), ("right toe", (510, 700), (100, 100, 0))]


def t_pose(scores: dict | None = None) -> Pose:
    points, seen = np.zeros((133, 2), np.float32), np.zeros(133, np.float32)
    for index, xy in T_POSE.items():
        points[index], seen[index] = xy, 1.0
    for index, score in (scores or {}).items():
        seen[index] = score
    return Pose(points, seen, (260, 80, 1020, 700))


def test_limbs_are_drawn_at_60_percent_of_the_official_colours_and_joints_in_openpose_order():
    canvas = pose.draw([t_pose()], 1280, 720)[0]
    for name, (x, y), colour in LIMB_MIDPOINTS:
        assert tuple(canvas[y, x]) == colour, name
    for name, (x, y), colour in JOINTS:
        assert tuple(canvas[y, x]) == colour, name


def test_stick_width_at_720p_is_two_and_limbs_are_five_pixels_thick():
    assert pose.stick_width(1280, 720) == 2      # max(int(720 / 200) - 1, 1)
    assert pose.stick_width(720, 1280) == 2 and pose.stick_width(100, 100) == 1 and pose.stick_width(1920, 1080) == 4
    assert pose.hand_width(1280, 720) == 1       # max(stick // 2, 1)
    canvas = pose.draw([t_pose()], 1280, 720)[0]
    column = canvas[150:250, 470].any(axis=-1)   # across the right upper arm, far from any joint
    assert column.sum() == 5                     # an ellipse of half-height 2: rows y-2 .. y+2


def test_keypoints_below_half_confidence_are_not_drawn():
    canvas = pose.draw([t_pose({9: 0.49, 7: 0.5})], 1280, 720)[0]  # left wrist just below, left elbow at 0.5
    assert canvas[200, 1020].max() == 0 and canvas[200, 950].max() == 0   # no wrist, no forearm
    assert tuple(canvas[200, 880]) == (0, 255, 0) and tuple(canvas[200, 810]) == (102, 153, 0)  # elbow, arm


def test_hands_are_drawn_with_hue_coloured_bones_and_blue_joints():
    hand = t_pose()
    points, scores = hand.points.copy(), hand.scores.copy()
    for i in range(5):  # the left hand's wrist and thumb (91-95) in a row, 40 px apart; the other fingers unseen
        points[91 + i], scores[91 + i] = (300 + 40 * i, 400), 1.0
    canvas = pose.draw([Pose(points, scores, hand.box)], 1280, 720)[0]
    assert tuple(canvas[400, 300]) == (0, 0, 255)      # a joint: blue
    assert tuple(canvas[400, 320]) == (255, 0, 0)      # bone 0 of 20: hue 0
    assert tuple(canvas[400, 400]) == (255, 153, 0)    # bone 2: hue 0.1 -> (1, 0.6, 0) x 255
    assert canvas[399, 320].max() == 0 and canvas[401, 320].max() == 0  # a 1 px line at 720p


def test_face_box_is_the_landmarks_box_grown_to_1_3_times_its_area_mostly_upwards():
    p = t_pose()
    face = np.stack([np.linspace(100, 200, 68), np.linspace(300, 380, 68)], axis=1)
    points = p.points.copy()
    points[23:91] = face
    box = pose.face_box(Pose(points, p.scores, p.box), 1280, 720)
    # w 100, h 80: area 10400 -> 114.02 x 91.21; x grows 7.01 each side, y 2.80 below and 8.41 above
    assert box == (92, 207, 291, 382)


def test_face_crops_are_the_face_box_resized_to_a_square():
    frame = np.zeros((1, 720, 1280, 3), np.uint8)
    frame[0, 291:382, 92:207] = 200   # exactly the face box of the landmark set above
    p = t_pose()
    points = p.points.copy()
    points[23:91] = np.stack([np.linspace(100, 200, 68), np.linspace(300, 380, 68)], axis=1)
    crops = pose.crop_faces(frame, [Pose(points, p.scores, p.box)], 32)
    assert crops.shape == (1, 32, 32, 3) and crops.min() == 200  # the box fills the whole crop, stretched


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
    faint = Pose(first.points, np.full(133, 0.05, np.float32), first.box)
    assert not pose.usable(faint)
    assert pose.hold([None, first, faint, None, second]) == [first, first, first, first, second]


def test_mask_augmentation_fills_the_grid_cells_the_mask_touches():
    mask = np.zeros((100, 100), np.uint8)
    mask[20, 20] = mask[70, 70] = 1
    grown = pose.augment_mask(mask, kernel=3, iterations=1, grid=(2, 2))
    # dilated: 19..21 and 69..71; box 19..71, cells 26 px: the two diagonal cells fill, the others stay empty
    assert grown[19:45, 19:45].all() and grown[45:71, 45:71].all()
    assert not grown[19:45, 45:71].any() and not grown[45:71, 19:45].any()


def test_tiny_detector_and_pose_model_give_133_keypoints_per_frame():
    """The tiny models have random weights, so only the shapes and ranges are checked, not where the points are."""
    models = dance._pose_models()
    frames = np.random.default_rng(0).integers(0, 255, (3, 48, 64, 3), dtype=np.uint8)
    found = pose.extract(models, frames)
    assert len(found) == 3
    for p in found:
        assert p.points.shape == (133, 2) and p.scores.shape == (133,)
        x0, y0, x1, y1 = p.box
        assert 0 <= x0 < x1 <= 64 and 0 <= y0 < y1 <= 48


class _SessionSpy:
    """Stands in for onnxruntime.InferenceSession: records the providers asked for, opens a CPU session."""

    asked: list = []

    def __init__(self, path, providers=None):
        import onnxruntime

        _SessionSpy.asked.append(list(providers))
        self.real = onnxruntime.capi.onnxruntime_inference_collection.InferenceSession(
            path, providers=["CPUExecutionProvider"])

    def __getattr__(self, name):
        return getattr(self.real, name)


@pytest.mark.parametrize("gpu, zero_gpu, at_load, in_window", [
    (True, False, ["CUDAExecutionProvider", "CPUExecutionProvider"], None),   # local CUDA: resident CUDA sessions
    (False, False, ["CPUExecutionProvider"], None),                          # no GPU: CPU, no failing CUDA try
    (True, True, ["CPUExecutionProvider"], ["CUDAExecutionProvider", "CPUExecutionProvider"]),  # ZeroGPU
])
def test_the_keypoint_models_run_on_cuda_where_there_is_a_gpu(monkeypatch, gpu, zero_gpu, at_load, in_window):
    """onnxruntime-gpu lists CUDA even without a GPU, so the choice follows torch's view of the GPU; on ZeroGPU
    (no GPU outside a window) the sessions are opened again with CUDA inside the window."""
    import onnxruntime

    from pipelines import runtime, wholebody, zerogpu

    monkeypatch.setattr(onnxruntime, "get_available_providers",
                        lambda: ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"])
    monkeypatch.setattr(onnxruntime, "InferenceSession", _SessionSpy)
    monkeypatch.setattr(runtime, "device", lambda: "cuda" if gpu else "cpu")
    monkeypatch.setattr(zerogpu, "on_zero_gpu", lambda: zero_gpu)
    monkeypatch.setattr(runtime, "HELPERS", runtime.PipelineCache(evicts=False))  # a fresh load, not the cached one
    monkeypatch.setattr(wholebody, "_window_sessions", {})
    _SessionSpy.asked = []
    models = wholebody.load()
    assert _SessionSpy.asked == [at_load, at_load]
    wholebody.extract(models, np.zeros((1, 48, 64, 3), np.uint8))
    assert _SessionSpy.asked[2:] == ([] if in_window is None else [in_window, in_window])
    wholebody.extract(models, np.zeros((1, 48, 64, 3), np.uint8))  # the same worker keeps its window sessions
    assert len(_SessionSpy.asked) == (2 if in_window is None else 4)
