"""Make the example dance clips: short keypoint sequences drawn as skeleton videos (no people filmed).

    python assets/examples/dance/make_clips.py

A stick figure's joint angles follow simple periodic motions; the 17 COCO keypoints come from those angles
and pipelines/pose.py draws them (feet, hands and face unseen), exactly as the app draws an extracted pose. Each clip is 4 s at 16 fps.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

from pipelines import media, pose  # noqa: E402

WIDTH, HEIGHT, FPS, SECONDS = 384, 512, 16, 4.0
UPPER_ARM, FOREARM, THIGH, SHIN = 70.0, 65.0, 92.0, 90.0


def _limb(start, angle_deg: float, length: float):
    """End of a limb hanging from `start`, rotated `angle_deg` from straight down (positive: to the figure's left,
    which is the viewer's right)."""
    angle = np.deg2rad(angle_deg)
    return start + length * np.array([np.sin(angle), np.cos(angle)])


def figure(centre_x: float, bob: float, arms: tuple, legs: tuple) -> pose.Pose:
    """A front-facing figure. arms/legs: (left upper, left lower, right upper, right lower) angles in degrees,
    left limbs measured outward to the viewer's right, right limbs outward to the viewer's left."""
    k = pose.K
    p = np.zeros((17, 2), np.float32)
    neck = np.array([centre_x, 150.0 + bob])
    p[k["nose"]] = neck + [0, -45]
    p[k["left_eye"]], p[k["right_eye"]] = neck + [11, -57], neck + [-11, -57]
    p[k["left_ear"]], p[k["right_ear"]] = neck + [22, -50], neck + [-22, -50]
    p[k["left_shoulder"]], p[k["right_shoulder"]] = neck + [48, 8], neck + [-48, 8]
    p[k["left_hip"]], p[k["right_hip"]] = neck + [30, 140], neck + [-30, 140]
    lu, ll, ru, rl = arms
    p[k["left_elbow"]] = _limb(p[k["left_shoulder"]], lu, UPPER_ARM)
    p[k["left_wrist"]] = _limb(p[k["left_elbow"]], lu + ll, FOREARM)
    p[k["right_elbow"]] = _limb(p[k["right_shoulder"]], -ru, UPPER_ARM)
    p[k["right_wrist"]] = _limb(p[k["right_elbow"]], -(ru + rl), FOREARM)
    lt, ls, rt, rs = legs
    p[k["left_knee"]] = _limb(p[k["left_hip"]], lt, THIGH)
    p[k["left_ankle"]] = _limb(p[k["left_knee"]], lt + ls, SHIN)
    p[k["right_knee"]] = _limb(p[k["right_hip"]], -rt, THIGH)
    p[k["right_ankle"]] = _limb(p[k["right_knee"]], -(rt + rs), SHIN)
    box = (*p.min(axis=0), *p.max(axis=0))
    return pose.Pose.from_body(p, np.ones(17, np.float32), box)


def arm_wave(t: float) -> pose.Pose:
    """Arms rise and fall in turn, like a wave passing through the body."""
    phase = 2 * np.pi * t
    left, right = 90 + 70 * np.sin(phase), 90 + 70 * np.sin(phase + np.pi)
    return figure(WIDTH / 2, 4 * np.sin(2 * phase), (left, 30 * np.sin(phase), right, 30 * np.sin(phase + np.pi)),
                  (5, 0, 5, 0))


def side_step(t: float) -> pose.Pose:
    """Steps left and right with bent knees and swinging arms."""
    phase = np.pi * t
    knee = 20 * abs(np.sin(2 * phase))
    return figure(WIDTH / 2 + 60 * np.sin(phase), 12 * abs(np.sin(2 * phase)),
                  (25 + 20 * np.sin(2 * phase), 40, 25 - 20 * np.sin(2 * phase), 40),
                  (10 + knee, -2 * knee, 10 + knee, -2 * knee))


def jumping_jack(t: float) -> pose.Pose:
    """Arms from the sides to overhead while the feet jump apart, twice a second."""
    open_ = 0.5 - 0.5 * np.cos(2 * np.pi * 1.5 * t)
    return figure(WIDTH / 2, -25 * np.sin(np.pi * open_), (20 + 150 * open_, 10, 20 + 150 * open_, 10),
                  (4 + 22 * open_, 0, 4 + 22 * open_, 0))


def main() -> None:
    times = np.arange(int(SECONDS * FPS)) / FPS
    for move in (arm_wave, side_step, jumping_jack):
        frames = pose.draw([move(t) for t in times], WIDTH, HEIGHT)
        path = media.write_mp4(HERE / f"{move.__name__}.mp4", frames, FPS, crf=28)
        print(f"{path.name}: {len(frames)} frames, {path.stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    main()
