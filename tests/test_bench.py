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


def test_the_estimator_charges_the_passes_the_ltx2_keyframes_preset_really_runs(files):
    """CFG (batched, 2) + STG (1) + modality guidance (1) per step: the bench counts it, the estimator agrees."""
    from pipelines import cost

    fast, _ = bench.real_and_reference("image_to_video", "ltx2-keyframes")
    fast = bench.replace(fast, defaults=bench.replace(fast.defaults, steps=2))
    real = presets._load("image_to_video", False)["ltx2-keyframes"]
    assert bench.count("image_to_video", fast, files) == 2 * 4 == cost.transformer_evaluations(real, 2, 3.0)


def test_the_text_to_video_gpu_window_holds_no_outside_only_work(files, monkeypatch):
    monkeypatch.setattr(bench, "TASKS", ("text_to_video",))
    report = bench.gpu_boundary(files)["text_to_video"]
    assert report["gpu_windows"] == 1 and report["violations"] == []
    assert 0 < report["seconds_inside"] <= report["seconds_total"]
