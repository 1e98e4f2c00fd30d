"""Long stylizations are made in overlapping windows: the joined video crossfades each overlap evenly from the
earlier window to the later one (rounded, not truncated), and the saved settings keep the prompts as given."""

from __future__ import annotations

import numpy as np

from pipelines import stylize_video as sv
from tests import factory


def test_each_overlap_fades_evenly_from_the_earlier_window_to_the_later_one():
    earlier = np.full((5, 2, 2, 3), 200, np.uint8)
    later = np.full((5, 2, 2, 3), 100, np.uint8)
    windows = (sv.Window(0, 5, 5, 0), sv.Window(2, 7, 5, 3))  # the later window repeats the last 3 frames
    video = sv.join([earlier, later], windows)
    assert video.shape[0] == 7
    # weights 1/4, 2/4, 3/4 towards the later window: 175, 150, 125 (exact, so rounding cannot hide)
    assert [int(v) for v in video[:, 0, 0, 0]] == [200, 200, 175, 150, 125, 100, 100]
    odd = sv.join([np.full((4, 1, 1, 3), 101, np.uint8), np.full((4, 1, 1, 3), 0, np.uint8)],
                  (sv.Window(0, 4, 4, 0), sv.Window(3, 6, 4, 1)))
    assert int(odd[3, 0, 0, 0]) == 51  # 50.5 rounds to 51, never 50 or 52


def test_the_saved_settings_keep_both_prompts_and_the_trim(tmp_path):
    source = factory.video(tmp_path / "source.mp4", seconds=1.0, fps=8, width=48, height=32)
    p = sv.plan(sv.Request(video=str(source), prompt="  a watercolor painting ", negative_prompt="blurry",
                           start=0.25, seed=9))
    settings = p.settings()
    assert settings["prompt"] == "a watercolor painting" and settings["negative_prompt"] == "blurry"
    assert settings["start"] == 0.25 and settings["seed"] == 9 and settings["task"] == "stylize_video"


def test_a_source_exactly_as_long_as_the_models_cap_is_taken_whole_and_a_negative_start_is_named(tmp_path):
    cap = sv.rules(sv.presets.get(sv.TASK, None)).max_seconds
    exact = factory.video(tmp_path / "exact.mp4", seconds=cap, fps=8, width=48, height=32)
    p = sv.plan(sv.Request(video=str(exact), prompt="clay"))
    assert len(p.frames) == round(cap * 8)
    try:
        sv.plan(sv.Request(video=str(exact), prompt="clay", start=-1))
    except ValueError as exc:
        assert str(exc) == "The start must be 0 s or later, got -1 s."
    else:
        raise AssertionError("a negative start was accepted")
