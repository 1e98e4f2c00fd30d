"""The real checkpoints are run the way their authors run them: the sampler and shift of each preset, the 2+2 expert
split of the 4-step LoRAs, one guidance value for both experts, the LTX-2 version's cross timestep, prompt length,
guidance passes, and the attention kernel each model family can use. Spies watch what the pipelines receive."""

from __future__ import annotations

import inspect
import json
from dataclasses import replace

import pytest

from pipelines import cost, generation, presets, runtime, sampling, speed
from pipelines import image_to_video as i2v
from pipelines import text_to_video as t2v
from tests import factory

# (task, preset) -> (scheduler class, shift): Wan-Video/Wan2.2 wan/configs/*.py, Wan-Video/Wan2.1 generate.py,
# ModelTC/LightX2V configs/distill and ModelTC/Wan2.2-Lightning (the sources are named in each preset's JSON).
OFFICIAL = {
    ("text_to_video", "wan2.2-ti2v-5b"): ("UniPCMultistepScheduler", 5.0),
    ("text_to_video", "wan2.1-t2v-1.3b"): ("UniPCMultistepScheduler", 5.0),
    ("text_to_video", "wan2.2-t2v-a14b-4step"): ("LinearFlowMatchEulerScheduler", 5.0),
    ("image_to_video", "wan2.2-i2v-a14b-lightning"): ("LinearFlowMatchEulerScheduler", 5.0),
    ("image_to_video", "wan2.2-i2v-a14b"): ("UniPCMultistepScheduler", 5.0),
    ("image_to_video", "wan2.1-flf2v-14b"): ("UniPCMultistepScheduler", 16.0),
    ("image_to_video", "wan2.2-ti2v-5b"): ("UniPCMultistepScheduler", 5.0),
    ("dance", "wan2.2-animate-14b"): ("UniPCMultistepScheduler", 5.0),
    ("dance", "wan2.1-vace-1.3b"): ("UniPCMultistepScheduler", 16.0),
    ("stylize_video", "wan2.1-vace-1.3b"): ("UniPCMultistepScheduler", 16.0),
    ("stylize_video", "wan2.1-vace-14b"): ("UniPCMultistepScheduler", 16.0),
    ("stylize_video", "wan2.1-vace-14b-4step"): ("LinearFlowMatchEulerScheduler", 5.0),
    ("stylize_video", "wan2.1-v2v-1.3b"): ("UniPCMultistepScheduler", 5.0),
}


def _shift(scheduler) -> float:
    config = scheduler.config
    return float(config["flow_shift"] if "flow_shift" in config else config["shift"])


@pytest.mark.parametrize("task, key", list(OFFICIAL))
def test_every_wan_preset_loads_with_the_official_sampler_and_shift(task, key):
    """Through runtime.pipeline on the tiny model of the same layout (whose repo config has its own shift)."""
    real = presets._load(task, False)[key]
    tiny = presets._load(task, True)[key]
    pipe = runtime.pipeline(replace(tiny, load=real.load))
    assert (type(pipe.scheduler).__name__, _shift(pipe.scheduler)) == OFFICIAL[(task, key)]
    assert real.load.get("source"), "each sampler setting names its official source"
    runtime.CACHE.clear()


def test_runtime_applies_the_preset_shift_over_the_repos_own_for_text_to_video():
    tiny = presets.get("text_to_video", "wan2.1-t2v-1.3b")
    repo_shift = json.loads((runtime.model_source(tiny) / "scheduler" / "scheduler_config.json").read_text())
    assert repo_shift["flow_shift"] != 7.0
    pipe = runtime.pipeline(replace(tiny, key="shift-probe", load={**tiny.load, "flow_shift": 7.0}))
    assert _shift(pipe.scheduler) == 7.0
    runtime.CACHE.clear()


def _expert_trace(pipe):
    """Record which expert runs at which timestep."""
    trace = []
    handles = [getattr(pipe, name).register_forward_pre_hook(
        lambda module, args, kwargs, name=name: trace.append((name, float(kwargs["timestep"].flatten()[0]))),
        with_kwargs=True) for name in ("transformer", "transformer_2")]
    return trace, handles


@pytest.mark.parametrize("task, key, boundary", [("text_to_video", "wan2.2-t2v-a14b-4step", 0.875),
                                                 ("image_to_video", "wan2.2-i2v-a14b-lightning", 0.9)])
def test_the_4_step_loras_run_two_high_noise_then_two_low_noise_steps(task, key, boundary, tmp_path):
    """LightX2V / Lightning: Euler at timesteps 1000, 750, 500, 250 shifted by 5 (1000, 937.5, 833.3, 625), the
    high-noise expert for the first two (boundary_step_index 2). UniPC with shift 12 gave 999, 973, 923, 800: 3+1."""
    preset = presets.get(task, key)
    pipe = runtime.pipeline(preset)
    assert pipe.config.boundary_ratio == boundary  # the real repos' model_index (Wan2.2 configs: 0.875 / 0.900)
    trace, handles = _expert_trace(pipe)
    try:
        if task == "text_to_video":
            t2v.run(t2v.Request(prompt="a fox", preset=key, num_frames=5, steps=4))
        else:
            image = factory.image(tmp_path / "first.png", 64, 32)
            i2v.run(i2v.Request(image=str(image), prompt="a fox", preset=key, num_frames=5, steps=4))
    finally:
        for handle in handles:
            handle.remove()
    assert [name for name, _ in trace] == ["transformer", "transformer", "transformer_2", "transformer_2"]
    assert [round(t, 1) for _, t in trace] == [1000.0, 937.5, 833.3, 625.0]
    runtime.CACHE.clear()


def test_the_linear_euler_schedule_matches_the_distill_samplers_for_any_step_count():
    assert sampling.linear_sigmas(4) == [1.0, 0.75, 0.5, 0.25]
    scheduler = sampling.scheduler_for(presets._load("text_to_video", False)["wan2.2-t2v-a14b-4step"],
                                       runtime.pipeline(presets.get("text_to_video", "wan2.1-t2v-1.3b")).scheduler)
    scheduler.set_timesteps(8)
    assert len(scheduler.timesteps) == 8 and float(scheduler.timesteps[0]) == 1000.0
    assert float(scheduler.sigmas[-1]) == 0.0


def test_the_4_step_text_preset_uses_the_one_guidance_value_for_both_experts():
    real = presets._load("text_to_video", False)["wan2.2-t2v-a14b-4step"]
    assert "guidance_scale_2" not in real.call  # diffusers WanPipeline then uses guidance_scale for both
    pipe = runtime.pipeline(presets.get("text_to_video", real.key))
    t2v.run(t2v.Request(prompt="a fox", preset=real.key, num_frames=5, steps=4, guidance_scale=3.0))
    assert (pipe._guidance_scale, pipe._guidance_scale_2) == (3.0, 3.0)
    runtime.CACHE.clear()


# ------------------------------------------------------------------------------------------------------ LTX-2


def _ltx_calls(pipe):
    seen = []
    handle = pipe.transformer.register_forward_pre_hook(
        lambda module, args, kwargs: seen.append((kwargs["use_cross_timestep"], kwargs["hidden_states"].shape[0])),
        with_kwargs=True)
    return seen, handle


def test_ltx2_keyframes_runs_the_2_0_model_the_2_0_way_with_four_passes_a_step(tmp_path):
    preset = presets.get("image_to_video", "ltx2-keyframes")
    pipe = runtime.pipeline(preset)
    seen, handle = _ltx_calls(pipe)
    image = factory.image(tmp_path / "first.png", 64, 32)
    try:
        with speed.count_evaluations(pipe) as counted:
            i2v.run(i2v.Request(image=str(image), prompt="a fox", preset=preset.key, steps=2))
    finally:
        handle.remove()
    assert {cross for cross, _ in seen} == {False}  # Lightricks/LTX-2 is LTX-2.0
    # Per step: conditional + unconditional batched (2), STG (1), modality isolation (1).
    assert [batch for _, batch in seen] == [2, 1, 1] * 2
    real = presets._load("image_to_video", False)["ltx2-keyframes"]
    assert cost.passes_per_step(real, real.defaults.guidance_scale) == 4
    assert counted.calls == cost.transformer_evaluations(preset, 2, preset.defaults.guidance_scale) == 8
    assert real.call["spatio_temporal_guidance_blocks"] == [29]  # LTX-2.0; diffusers' default [28] is 2.3
    runtime.CACHE.clear()


def test_ltx2_3_runs_with_the_cross_timestep_and_one_pass_a_step():
    preset = presets.get("text_to_video", "ltx2.3-distilled")
    pipe = runtime.pipeline(preset)
    seen, handle = _ltx_calls(pipe)
    try:
        t2v.run(t2v.Request(prompt="a fox", preset=preset.key, steps=2))
    finally:
        handle.remove()
    assert seen == [(True, 1), (True, 1)]
    assert cost.passes_per_step(presets._load("text_to_video", False)[preset.key], 1.0) == 1
    runtime.CACHE.clear()


def test_an_ltx2_preset_without_a_model_version_is_refused():
    preset = presets._load("image_to_video", False)["ltx2-keyframes"]
    with pytest.raises(ValueError, match="model version"):
        generation.ltx2_cross_timestep(replace(preset, tables={"inputs": preset.table("inputs")}))


def test_ltx2_prompts_keep_the_official_1024_tokens():
    """Lightricks/LTX-2 ltx_core/text_encoders/gemma/gemma_assets.py TOKENIZER_MAX_LENGTH = 1024, as diffusers."""
    from diffusers import LTX2ConditionPipeline, LTX2Pipeline

    for cls in (LTX2Pipeline, LTX2ConditionPipeline):
        assert inspect.signature(cls.__call__).parameters["max_sequence_length"].default == 1024
    for task in ("text_to_video", "image_to_video"):
        for preset in presets._load(task, False).values():
            if preset.pipeline_class.startswith("LTX2"):
                assert "max_sequence_length" not in preset.call, preset.key


# ------------------------------------------------------------------------------------------------- attention


def test_attention_kernel_per_model_family(monkeypatch):
    every = ["_flash_3", "flash", "sage"]
    ltx = presets._load("image_to_video", False)["ltx2-keyframes"]
    wan = presets._load("text_to_video", False)["wan2.2-ti2v-5b"]
    assert speed.attention_backend(ltx, installed=every) == "native"  # LTX-2 passes a text mask every step
    assert speed.attention_backend(wan, installed=every) == "_flash_3"
    assert speed.attention_backend(wan, installed=["sage"]) == "sage"
    assert speed.attention_backend(ltx, forced="flash") == "native"
    assert speed.attention_backend(wan, forced="flash") == "flash"
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: object() if name == "flash_attn" else real_find_spec(name, *a))
    assert speed.attention_backend(ltx) == "native" and speed.attention_backend(wan) == "flash"


# ------------------------------------------------------------------------------------------ first + last frame


def test_a_last_frame_defaults_to_a_model_trained_for_first_and_last(tmp_path):
    first = str(factory.image(tmp_path / "first.png", 64, 32, seed=1))
    last = str(factory.image(tmp_path / "last.png", 64, 32, seed=2))
    default = next(iter(presets.presets("image_to_video").values()))
    assert not i2v.frame_rules(default).first_last_trained
    with_last = i2v.plan(i2v.Request(image=first, last_image=last, prompt="a fox"))
    assert with_last.preset.key == "wan2.1-flf2v-14b" and i2v.frame_rules(with_last.preset).first_last_trained
    assert i2v.plan(i2v.Request(image=first, prompt="a fox")).preset.key == default.key
    assert i2v.plan(i2v.Request(image=first, last_image=last, prompt="a fox", preset=default.key)).preset is default


def test_the_tab_says_the_default_was_not_trained_for_a_last_frame_and_switches_when_one_is_added():
    from tabs import image_to_video as tab

    assert tab._last_frame_label(tab.DEFAULT.key).key == "image_to_video.last_frame_untrained"
    assert tab._last_frame_label("wan2.1-flf2v-14b").key == "image_to_video.last_frame_required"
    assert tab._last_frame_added("last.png", tab.DEFAULT.key) == "wan2.1-flf2v-14b"
    assert tab._last_frame_added("last.png", "ltx2-keyframes") == "ltx2-keyframes"
    assert tab._last_frame_added(None, tab.DEFAULT.key) == tab.DEFAULT.key
