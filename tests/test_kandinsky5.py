"""Kandinsky 5.0 Video Lite distilled, the text-to-video option for small GPUs: its own classes end to end and
through the endpoint, the official sampler, step count, guidance, size, prompt length and negative prompt at the
pipeline, and its MIT licence on the picker."""

from __future__ import annotations

import pytest

from bench import run as bench
from pipelines import generation, media, presets, runtime
from pipelines import text_to_video as t2v
from tests.spies import largest_timestep, transformer_kwargs

KEY = "kandinsky5-lite-distilled"
# kandinskylab/kandinsky-5 kandinsky/t2v_pipeline.py negative_caption and test.py --negative_prompt
OFFICIAL_NEGATIVE = ("Static, 2D cartoon, cartoon, 2d animation, paintings, images, worst quality, low quality, "
                     "ugly, deformed, walking backwards")


def official_timesteps(steps: int, shift: float = 5.0) -> list[int]:
    """kandinskylab/kandinsky-5 kandinsky/generation_utils.py generate: torch.linspace(1, 0, steps + 1) shifted by
    scheduler_scale (5 in configs/k5_lite_t2v_5s_distil_sd.yaml), the last (0) dropped, fed to the DiT as t * 1000."""
    sigmas = [1 - i / steps for i in range(steps)]
    return [round(1000 * shift * s / (1 + (shift - 1) * s)) for s in sigmas]


def test_kandinsky_5_lite_runs_its_own_classes_end_to_end_and_through_its_endpoint(client):
    preset = presets.get("text_to_video", KEY)
    pipe = runtime.pipeline(preset)
    assert type(pipe).__name__ == "Kandinsky5T2VPipeline"
    assert {name: type(getattr(pipe, name)).__name__ for name in
            ("transformer", "vae", "text_encoder", "tokenizer", "text_encoder_2", "tokenizer_2")} == {
        "transformer": "Kandinsky5Transformer3DModel", "vae": "AutoencoderKLHunyuanVideo",
        "text_encoder": "Qwen2_5_VLForConditionalGeneration", "tokenizer": "Qwen2VLProcessor",
        "text_encoder_2": "CLIPTextModel", "tokenizer_2": "CLIPTokenizer"}
    result = t2v.run(t2v.Request(prompt="a lantern on the sea", preset=KEY, seed=1))
    assert result.frames.shape[0] == preset.defaults.num_frames and result.settings["preset"] == KEY
    # the endpoint runs with the live preview on: Kandinsky's channels-last latents must still make a picture
    video, info, seed = client.predict(prompt="a lantern on the sea", preset=KEY, seed=2, api_name="/text_to_video")
    assert media.read_metadata(video)["settings"]["preset"] == KEY and "/r/" in info and seed == 2


def test_kandinsky_5_lite_samples_16_official_steps_without_guidance(pipeline_spy):
    fast, reference = bench.real_and_reference("text_to_video", KEY)
    assert (fast.defaults.steps, fast.defaults.guidance_scale) == (16, 1.0)
    with bench.preset_swapped(fast):
        pipe = runtime.pipeline(fast)
        seen, _ = transformer_kwargs(pipe, largest_timestep,
                                     lambda: t2v.run(t2v.Request(prompt="a red fox in snow", preset=KEY, seed=4)))
    call = pipeline_spy.last
    assert call.pipeline == "Kandinsky5T2VPipeline"
    assert (call["num_inference_steps"], call["guidance_scale"], call["max_sequence_length"]) == (16, 1.0, 256)
    assert call["prompt"] == "a red fox in snow" and call["negative_prompt"] == OFFICIAL_NEGATIVE
    assert seen == official_timesteps(16)  # one pass per step (no CFG) on the official shifted schedule
    # the benchmark's figures: 16 passes against the SFT model's 50 steps with CFG (100)
    files = {}
    assert bench.count("text_to_video", fast, files) == 16
    assert bench.count("text_to_video", reference, files) == 100


def test_kandinsky_5_lite_plans_the_official_size_length_and_text_length(monkeypatch):
    monkeypatch.setenv("STUDIO_TINY", "0")  # the real preset's plan (nothing is loaded)
    p = t2v.plan(t2v.Request(prompt="a cat", preset=KEY, seed=1))
    kwargs = generation.call_kwargs(p)
    # configs/k5_lite_t2v_5s_distil_sd.yaml (16 steps, guidance 1, Qwen max_length 256), t2v_pipeline.py
    # (5 s = 121 frames at 24 fps); 16:9 lands on 832x480, inside the 512-class sizes' rope scale (480..854)
    assert (kwargs["num_inference_steps"], kwargs["guidance_scale"], kwargs["max_sequence_length"]) == (16, 1.0, 256)
    assert (kwargs["num_frames"], p.fps, kwargs["width"], kwargs["height"]) == (121, 24, 832, 480)
    assert kwargs["negative_prompt"] == OFFICIAL_NEGATIVE
    square = t2v.plan(t2v.Request(prompt="a cat", preset=KEY, aspect="1:1"))
    assert all(480 <= side <= 854 and side % 32 == 0 for side in (square.width, square.height))


def test_kandinsky_5_lite_with_guidance_takes_the_visitors_negative_prompt_and_runs_two_passes(pipeline_spy):
    pipe = runtime.pipeline(presets.get("text_to_video", KEY))
    seen, _ = transformer_kwargs(pipe, largest_timestep, lambda: t2v.run(t2v.Request(
        prompt="a lighthouse", negative_prompt="blurry", preset=KEY, seed=5, steps=2, guidance_scale=5.0)))
    assert pipeline_spy.last["negative_prompt"] == "blurry" and pipeline_spy.last["guidance_scale"] == 5.0
    assert seen == [t for t in official_timesteps(2) for _ in (0, 1)]  # conditional + unconditional each step


def test_the_picker_names_kandinsky_5_lite_with_its_mit_licence_in_both_languages(monkeypatch):
    from tabs import _widgets as w

    preset = presets.get("text_to_video", KEY)
    assert preset.licence.name == "MIT" and preset.licence.commercial == "yes"
    assert KEY in [value for _, value in w.model_picker("text_to_video").choices]
    for locale in ("en", "zh-CN"):
        text = w.preset_name("text_to_video", KEY, locale)
        assert "Kandinsky 5.0" in text and "MIT" in text and "24 GB" in text and "16" in text, locale
    monkeypatch.setenv("STUDIO_COMMERCIAL_ONLY", "1")  # MIT: free for commercial use, so still offered
    assert KEY in presets.presets("text_to_video")


@pytest.mark.parametrize("bad_steps", [17, 50])
def test_kandinsky_5_lite_refuses_more_steps_than_it_was_distilled_for(bad_steps):
    with pytest.raises(ValueError, match="Steps must be between 1 and 16"):
        t2v.plan(t2v.Request(prompt="a cat", preset=KEY, steps=bad_steps))


@pytest.mark.parametrize("cache", ["first-block", "taylorseer"])
def test_kandinsky_5_lite_refuses_the_step_caches_its_blocks_cannot_take(cache):
    # diffusers' first-block hook reads a `hidden_states` argument its blocks lack; TaylorSeer's pattern hooks none
    with pytest.raises(ValueError, match=f"Kandinsky 5.0 Video Lite 2B distilled cannot use the {cache} cache; choose: off"):
        t2v.plan(t2v.Request(prompt="a cat", preset=KEY, cache=cache))
    assert t2v.plan(t2v.Request(prompt="a cat", preset="wan2.1-t2v-1.3b", cache=cache)).cache == cache
