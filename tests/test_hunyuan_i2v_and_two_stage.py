"""HunyuanVideo 1.5 image to video (50-step quality and the 480p step-distilled model) and LTX-2.5's two-stage
generation with the latent upsampler: what each model receives, checked against the official settings."""

from __future__ import annotations

import numpy as np
import pytest

from bench import run as bench
from pipelines import cost, presets, runtime
from pipelines import image_to_video as i2v
from pipelines import text_to_video as t2v
from tests.spies import pixels

STEP_DISTILLED = "hunyuanvideo1.5-480p-i2v-step-distilled"
I2V_QUALITY = "hunyuanvideo1.5-480p-i2v"
TWO_STAGE = "ltx2.5-distilled-two-stage"
# Lightricks/LTX-2 packages/ltx-pipelines/src/ltx_pipelines/utils/constants.py
DISTILLED_SIGMAS = [1.0, 0.99375, 0.9875, 0.98125, 0.975, 0.909375, 0.725, 0.421875, 0.0]
STAGE_2_SIGMAS = [0.909375, 0.725, 0.421875, 0.0]


def made_with(video: str) -> str:
    from pipelines import media

    return media.read_metadata(video)["settings"]["preset"]


def official_hunyuan_timesteps(steps: int, shift: float) -> list[float]:
    """Tencent-Hunyuan/HunyuanVideo-1.5 hyvideo/schedulers/scheduling_flow_match_discrete.py: sigmas
    linspace(1, 0, steps + 1), sd3 time shift shift * s / (1 + (shift - 1) * s), timesteps = 1000 * sigma."""
    sigmas = np.linspace(1.0, 0.0, steps + 1)[:-1]
    return [round(float(1000 * shift * s / (1 + (shift - 1) * s)), 2) for s in sigmas]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return bench.make_inputs(tmp_path_factory.mktemp("hunyuan-two-stage-inputs"))


def _transformer_timesteps(pipe, run):
    seen = []
    handle = pipe.transformer.register_forward_pre_hook(
        lambda m, a, k: seen.append(round(float(k["timestep"].flatten()[0]), 2)), with_kwargs=True)
    try:
        result = run()
    finally:
        handle.remove()
    return seen, result


def _fitted_first_frame(image_path, key):
    plan = i2v.plan(i2v.Request(image=str(image_path), prompt="a cat", preset=key))
    return plan, pixels(plan.frames.first)


def test_hunyuan_step_distilled_gets_the_first_frame_and_samples_12_steps_at_shift_7_without_cfg(pipeline_spy, files):
    fast, reference = bench.real_and_reference("image_to_video", STEP_DISTILLED)
    assert (fast.defaults.steps, fast.defaults.guidance_scale) == (12, 1.0)  # PIPELINE_CONFIGS 480p_i2v_step_distilled
    assert (reference.defaults.steps, reference.defaults.guidance_scale) == (50, 6.0)  # the 480p I2V it comes from
    with bench.preset_swapped(fast):
        pipe = runtime.pipeline(fast)
        assert type(pipe).__name__ == "HunyuanVideo15ImageToVideoPipeline" and pipe.transformer.config.use_meanflow
        assert pipe.scheduler.config.shift == 7.0
        plan, first = _fitted_first_frame(files["image"], STEP_DISTILLED)
        steps = []
        seen, result = _transformer_timesteps(pipe, lambda: i2v.run(
            i2v.Request(image=str(files["image"]), prompt="a cat", preset=STEP_DISTILLED, seed=3),
            progress=lambda s, n: steps.append((s, n))))
    call = pipeline_spy.last
    assert call.pipeline == "HunyuanVideo15ImageToVideoPipeline"
    assert np.array_equal(pixels(call["image"]), first)  # the fitted first frame itself reaches the model
    assert "width" not in call.kwargs and "last_image" not in call.kwargs  # it sizes the video from the image
    assert call["num_inference_steps"] == 12 and call.seed() == 3
    # One pass per step (CFG 1: the guider is off) on the official shifted schedule.
    assert float(pipe.guider.guidance_scale) == 1.0
    assert seen == official_hunyuan_timesteps(12, 7.0)
    assert steps == [(s, 12) for s in range(1, 13)]
    # The picture's aspect (96x64) picks the model's own size bucket; the video has that size.
    assert result.frames.shape[1:3] == (plan.height, plan.width) == (24, 36)
    assert cost.transformer_evaluations(presets._load("image_to_video", False)[STEP_DISTILLED], 12, 1.0) == 12


def test_hunyuan_i2v_quality_runs_cfg_6_at_shift_5_and_refuses_a_last_frame(pipeline_spy, files):
    real = presets._load("image_to_video", False)[I2V_QUALITY]
    assert (real.defaults.steps, real.defaults.guidance_scale, real.load["flow_shift"]) == (50, 6.0, 5.0)
    pipe = runtime.pipeline(presets.get("image_to_video", I2V_QUALITY))
    assert pipe.scheduler.config.shift == 5.0 and not pipe.transformer.config.use_meanflow
    _, first = _fitted_first_frame(files["image"], I2V_QUALITY)
    seen, _ = _transformer_timesteps(pipe, lambda: i2v.run(i2v.Request(
        image=str(files["image"]), prompt="a cat", preset=I2V_QUALITY, seed=4, steps=3, guidance_scale=6.0)))
    assert np.array_equal(pixels(pipeline_spy.last["image"]), first)
    # CFG 6: a conditional and an unconditional pass per step, on the shift-5 schedule.
    assert float(pipe.guider.guidance_scale) == 6.0
    assert seen == [t for t in official_hunyuan_timesteps(3, 5.0) for _ in range(2)]
    # The guidance asked for reaches the guider: at 1 it runs one pass per step.
    seen, _ = _transformer_timesteps(pipe, lambda: i2v.run(i2v.Request(
        image=str(files["image"]), prompt="a cat", preset=I2V_QUALITY, seed=4, steps=3, guidance_scale=1.0)))
    assert seen == official_hunyuan_timesteps(3, 5.0)
    with pytest.raises(ValueError, match="first frame only"):
        i2v.plan(i2v.Request(image=str(files["image"]), last_image=str(files["last_image"]), prompt="a cat",
                             preset=I2V_QUALITY))


@pytest.mark.parametrize("key", [STEP_DISTILLED, I2V_QUALITY])
def test_hunyuan_i2v_runs_through_the_endpoint_with_the_uploaded_first_frame(client, pipeline_spy, files, key):
    from gradio_client import handle_file

    _, first = _fitted_first_frame(files["image"], key)
    video, info, seed = client.predict(image=handle_file(str(files["image"])), prompt="a cat", preset=key, seed=5,
                                       steps=2, guidance_scale=presets.get("image_to_video", key).defaults.guidance_scale,
                                       live_preview=False, api_name="/image_to_video")
    assert made_with(video) == key and "/r/" in info and seed == 5
    call = pipeline_spy.last
    assert call.pipeline == "HunyuanVideo15ImageToVideoPipeline" and np.array_equal(pixels(call["image"]), first)


def _scheduler_sigmas(monkeypatch):
    """Every schedule an LTX-2 scheduler is set to (video and audio each get one per stage)."""
    import functools

    from diffusers import FlowMatchEulerDiscreteScheduler

    schedules = []
    real = FlowMatchEulerDiscreteScheduler.set_timesteps

    @functools.wraps(real)  # the pipeline reads its signature to see that it takes sigmas
    def spy(self, *args, **kwargs):
        result = real(self, *args, **kwargs)
        schedules.append([round(float(s), 6) for s in self.sigmas])
        return result

    monkeypatch.setattr(FlowMatchEulerDiscreteScheduler, "set_timesteps", spy)
    return schedules


def test_ltx_2_5_two_stage_runs_half_size_upsamples_stage_1s_latents_and_refines_on_the_official_sigmas(
        pipeline_spy, monkeypatch, files):
    fast, _ = bench.real_and_reference("text_to_video", TWO_STAGE)
    schedules = _scheduler_sigmas(monkeypatch)
    steps = []
    with bench.preset_swapped(fast):
        result = t2v.run(t2v.Request(prompt="waves on a beach", preset=TWO_STAGE, seed=6),
                         progress=lambda s, n: steps.append((s, n)))
    first, upsample, second = pipeline_spy.calls
    width, height = fast.defaults.width, fast.defaults.height
    assert (first.pipeline, upsample.pipeline, second.pipeline) == (
        "LTX2Pipeline", "LTX2LatentUpsamplePipeline", "LTX2Pipeline")
    # Stage 1: half the width and height, the 8 distilled sigmas, latents out.
    assert (first["width"], first["height"], first["output_type"]) == (width // 2, height // 2, "latent")
    assert first["sigmas"] == DISTILLED_SIGMAS[:-1] and first["guidance_scale"] == 1.0
    # The upsampler gets stage 1's video latents and doubles them.
    assert upsample["latents"] is first.frames and upsample["output_type"] == "latent"
    assert upsample.frames.shape[-2:] == tuple(2 * n for n in first.frames.shape[-2:])
    # Stage 2: the upsampled latents and stage 1's sound, re-noised to the first stage-2 sigma, 3 steps, full size.
    assert second["latents"] is upsample.frames and second["audio_latents"] is first.audio
    assert (second["width"], second["height"], second["num_inference_steps"]) == (width, height, 3)
    assert second["sigmas"] == STAGE_2_SIGMAS[:-1] and second["noise_scale"] == STAGE_2_SIGMAS[0]
    assert second["guidance_scale"] == 1.0 and second.get("output_type") == "np"
    # The schedulers sample exactly those sigmas (no resolution shift), video and audio, stage by stage.
    assert schedules == [DISTILLED_SIGMAS] * 2 + [STAGE_2_SIGMAS] * 2
    assert steps == [(s, 11) for s in range(1, 12)]
    assert result.frames.shape[1:3] == (height, width) and result.sample_rate == 48000
    assert result.audio is not None and result.audio.size > 0


def test_the_two_stage_preset_counts_and_charges_both_stages(files):
    fast, reference = bench.real_and_reference("text_to_video", TWO_STAGE)
    assert bench.count("text_to_video", fast, files) == 11  # 8 stage-1 steps + 3 refine steps, one pass each
    real = presets._load("text_to_video", False)[TWO_STAGE]
    assert cost.transformer_evaluations(real, 8, 1.0) == 11
    one_stage = presets._load("text_to_video", False)["ltx2.5-distilled"]
    size = dict(width=1536, height=1024, num_frames=121, steps=8, guidance_scale=1.0, gpu="H100")
    # Stage 1 at a quarter of the tokens: far less than 11 full-size passes, more than 8 at full size would skip.
    both = cost.estimate(real, **size).seconds
    assert cost.estimate(one_stage, **size).seconds * 3 / 8 < both < cost.estimate(one_stage, **size).seconds * 11 / 8


def test_the_two_stage_preset_runs_through_the_endpoint(client, pipeline_spy):
    video, info, seed = client.predict(prompt="waves on a beach", preset=TWO_STAGE, seed=7, steps=2,
                                       guidance_scale=1.0, api_name="/text_to_video")
    assert made_with(video) == TWO_STAGE and "/r/" in info
    assert [c.pipeline for c in pipeline_spy.calls] == ["LTX2Pipeline", "LTX2LatentUpsamplePipeline", "LTX2Pipeline"]


def test_the_one_stage_distilled_preset_samples_its_distilled_sigmas_unshifted(monkeypatch):
    fast, _ = bench.real_and_reference("text_to_video", "ltx2.5-distilled")
    schedules = _scheduler_sigmas(monkeypatch)
    with bench.preset_swapped(fast):
        pipe = runtime.pipeline(fast)
        t2v.run(t2v.Request(prompt="waves on a beach", preset="ltx2.5-distilled", seed=8))
    assert schedules == [DISTILLED_SIGMAS] * 2  # video and audio, as Lightricks/LTX-2 distilled.py samples them
    assert pipe.scheduler.config.use_dynamic_shifting  # the repo's own scheduler is back for other calls
