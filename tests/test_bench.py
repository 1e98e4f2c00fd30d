"""The benchmark's measurements on the tiny models: evaluation counts of a few-step preset vs its reference, and a
GPU window with no outside-only work in it (no timing assertions: this machine's speed varies)."""

from __future__ import annotations

import pytest

from bench import run as bench
from pipelines import presets


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return bench.make_inputs(tmp_path_factory.mktemp("bench-inputs"))


def test_the_four_step_preset_needs_at_least_ten_times_fewer_evaluations_than_its_reference(files):
    fast, reference = bench.real_and_reference("text_to_video", "wan2.2-t2v-a14b-4step")
    real = presets._load("text_to_video", False)["wan2.2-t2v-a14b-4step"]
    assert (fast.defaults.steps, fast.defaults.guidance_scale) == (real.defaults.steps, real.defaults.guidance_scale)
    assert reference is not None and reference.defaults.steps == real.reference["steps"]
    fast_count = bench.count("text_to_video", fast, files)
    reference_count = bench.count("text_to_video", reference, files)
    assert fast_count == real.defaults.steps  # guidance 1 on both experts: one pass per step
    assert reference_count == 2 * real.reference["steps"]  # guidance on: a conditional and an unconditional pass
    assert reference_count / fast_count >= bench.TARGET_RATIO
    assert presets.get("text_to_video", "wan2.2-t2v-a14b-4step") is presets._load("text_to_video", True)[fast.key]


def test_the_text_to_video_gpu_window_holds_no_outside_only_work(files, monkeypatch):
    monkeypatch.setattr(bench, "TASKS", ("text_to_video",))
    report = bench.gpu_boundary(files)["text_to_video"]
    assert report["gpu_windows"] == 1 and report["violations"] == []
    assert 0 < report["seconds_inside"] <= report["seconds_total"]
