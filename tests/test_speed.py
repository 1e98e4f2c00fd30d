"""The cost model, offload choice, ZeroGPU duration, distill LoRAs and cache hooks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pipelines import cost, generation, presets, runtime, speed
from pipelines import text_to_video as t2v

REAL = presets._load("text_to_video", False)


def _estimate(preset, **changes):
    d = preset.defaults
    values = dict(width=d.width, height=d.height, num_frames=d.num_frames, steps=d.steps,
                  guidance_scale=d.guidance_scale, gpu="RTX 4090")
    return cost.estimate(preset, **{**values, **changes})


@pytest.mark.parametrize("key", list(REAL))
def test_estimates_grow_with_frames_resolution_and_steps(key):
    preset = REAL[key]
    base = _estimate(preset, num_frames=33, width=512, height=512, steps=8)
    assert _estimate(preset, num_frames=65, width=512, height=512, steps=8).seconds > base.seconds
    assert _estimate(preset, num_frames=33, width=768, height=768, steps=8).seconds > base.seconds
    assert _estimate(preset, num_frames=33, width=512, height=512, steps=16).seconds > base.seconds
    assert _estimate(preset, num_frames=65, width=768, height=768, steps=8).vram_gb >= base.vram_gb


def test_model_card_speeds_are_reproduced_within_a_quarter():
    """Wan 2.1 1.3B: ~4 min for 5 s of 480p on an RTX 4090; Wan 2.2 5B: under 9 min for 5 s of 720p."""
    assert 180 <= _estimate(REAL["wan2.1-t2v-1.3b"]).seconds <= 300
    assert 400 <= _estimate(REAL["wan2.2-ti2v-5b"]).seconds <= 675


def test_offload_profile_flips_at_the_right_memory():
    preset = REAL["wan2.2-ti2v-5b"]
    needs = {p: cost.peak_vram(preset, p) for p in cost.PROFILES}
    assert needs["gpu"] > needs["model"] > needs["fp8"] > needs["group"]
    for profile in cost.PROFILES:
        room = needs[profile] / 0.9
        assert cost.offload_profile(preset, room + 0.01) == profile
    assert cost.offload_profile(preset, needs["gpu"] / 0.9 - 0.01) == "model"
    assert cost.offload_profile(preset, 1.0) == "group"


@pytest.mark.parametrize("seconds", [0.5, 10, 77.7, 900])
def test_zerogpu_duration_is_never_below_the_estimate(seconds):
    e = cost.Estimate("ZeroGPU", 10, seconds, 8, "gpu")
    assert cost.zerogpu_duration(e) >= seconds and isinstance(cost.zerogpu_duration(e), int)
    plan = t2v.plan(t2v.Request(prompt="x"))
    assert generation.gpu_seconds(plan) >= t2v.estimate(plan).seconds  # what @spaces.GPU is given


def test_the_fast_preset_fuses_its_distill_loras_into_both_experts():
    import diffusers

    preset = presets.get("text_to_video", "wan2.2-t2v-a14b-4step")
    fused = runtime.pipeline(preset)
    raw = diffusers.WanPipeline.from_pretrained(runtime.model_source(preset))
    for name in ("transformer", "transformer_2"):
        before = getattr(raw, name).blocks[0].attn1.to_q.weight
        after = getattr(fused, name).blocks[0].attn1.to_q.weight
        assert not torch.equal(before, after), f"{name} was not changed by its LoRA"
        assert not any("lora" in n for n, _ in getattr(fused, name).named_modules())  # fused, adapters gone


def test_fast_preset_needs_one_evaluation_per_step():
    preset = presets.get("text_to_video", "wan2.2-t2v-a14b-4step")
    pipe = runtime.pipeline(preset)
    with speed.count_evaluations(pipe) as counted:
        t2v.run(t2v.Request(prompt="a fox", preset=preset.key, num_frames=5, steps=4))
    assert counted.calls == 4
    with speed.count_evaluations(pipe) as counted:
        t2v.run(t2v.Request(prompt="a fox", preset=preset.key, num_frames=5, steps=4, guidance_scale=4.0))
    assert counted.calls == 4 * 2  # guidance above 1 adds an unconditional pass to every step


@pytest.mark.parametrize("kind", ["first-block", "taylorseer"])
def test_cache_hooks_apply_for_one_request_only(kind):
    request = t2v.Request(prompt="a fox", num_frames=5, steps=4, seed=5, preset="wan2.1-t2v-1.3b")
    plain = t2v.run(request).frames
    cached = t2v.run(t2v.Request(**{**request.__dict__, "cache": kind})).frames
    assert cached.shape == plain.shape
    assert np.array_equal(t2v.run(request).frames, plain)  # the model is unchanged afterwards


def test_unknown_cache_is_a_clear_error():
    with pytest.raises(ValueError, match="Unknown cache 'magic'"):
        t2v.plan(t2v.Request(prompt="x", cache="magic"))


def test_the_fast_stylization_preset_fuses_its_distill_lora():
    import diffusers

    preset = presets.get("stylize_video", "wan2.1-vace-14b-4step")
    assert preset.defaults.steps * 1 * 10 <= preset.reference["steps"] * 2  # >= 10x fewer evaluations
    fused = runtime.pipeline(preset)
    raw = diffusers.WanVACEPipeline.from_pretrained(runtime.model_source(preset))
    before, after = raw.transformer.blocks[0].attn1.to_q.weight, fused.transformer.blocks[0].attn1.to_q.weight
    assert not torch.equal(before, after)
