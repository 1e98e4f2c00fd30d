"""LTX-2 two-stage generation with the spatial latent upsampler, for presets with an `upsampler` table.

The official distilled recipe (Lightricks/LTX-2 packages/ltx-pipelines/src/ltx_pipelines/distilled.py,
DistilledPipeline): stage 1 denoises at half the width and height on the distilled schedule; the x2 latent
upsampler doubles stage 1's video latents; stage 2 re-noises them, and stage 1's sound latents, to the first
stage-2 sigma and refines at full size on the short stage-2 schedule. Both schedules are used as they are, with no
resolution-dependent shift (schedules.sigmas_as_given). diffusers runs each stage with the same LTX2Pipeline
(output_type="latent" between them) and the upsampler with LTX2LatentUpsamplePipeline sharing the pipeline's VAE (diffusers docs
api/pipelines/ltx2.md, "Distilled checkpoint generation").
"""

from __future__ import annotations

from collections.abc import Callable

from pipelines import generation, presets


def has_upsampler(preset: presets.Preset) -> bool:
    return "upsampler" in preset.tables


def stage_2_sigmas(preset: presets.Preset) -> list[float]:
    return [float(s) for s in preset.table("upsampler")["stage_2_sigmas"]]


def stage_1_size(width: int, height: int) -> tuple[int, int]:
    """Stage 1's frame size: half the output's (distilled.py: width // 2, height // 2)."""
    return width // 2, height // 2


def attach(pipe, preset: presets.Preset, source: str, subfolder: str) -> None:
    """Load the latent upsampler from `source` (a Hub repo or the tiny model's folder) into an
    LTX2LatentUpsamplePipeline that shares `pipe`'s VAE, kept on the pipeline so both live and leave together."""
    import diffusers
    from diffusers.pipelines.ltx2.latent_upsampler import LTX2LatentUpsamplerModel

    from pipelines import runtime

    rule = preset.table("upsampler")
    model = LTX2LatentUpsamplerModel.from_pretrained(source, subfolder=subfolder, torch_dtype=runtime.compute_dtype())
    upsample_pipe = getattr(diffusers, rule["pipeline_class"])(vae=pipe.vae, latent_upsampler=model)
    upsample_pipe.set_progress_bar_config(disable=True)
    pipe._studio_upsampler = upsample_pipe


def denoise(pipe, preset: presets.Preset, kwargs: dict, steps: int, progress: Callable[[int, int], None],
            on_latents_for: Callable[[dict], Callable[[object], None] | None] | None = None):
    """Both stages and the upsampling between them; `kwargs` are the full-size call arguments and `steps` stage 1's.
    Progress counts stage 1's steps then stage 2's; `on_latents_for(stage_kwargs)` gives each stage its latents
    callback (previews need the stage's own frame size). Returns (frames, audio)."""
    refine = stage_2_sigmas(preset)
    total = steps + len(refine)
    width, height = stage_1_size(kwargs["width"], kwargs["height"])
    first = {**kwargs, "width": width, "height": height, "output_type": "latent"}
    watch = on_latents_for or (lambda stage_kwargs: None)
    # Each stage samples its sigmas as given (generation.denoise -> schedules.sigmas_as_given).
    video_latents, audio_latents = generation.denoise(pipe, first, steps, lambda s, n: progress(s, total),
                                                      watch(first))
    upsampler = pipe._studio_upsampler
    upsampler.latent_upsampler.to(video_latents.device)
    upsampled = upsampler(latents=video_latents, output_type="latent").frames
    second = {**kwargs, "latents": upsampled, "audio_latents": audio_latents, "sigmas": refine,
              "num_inference_steps": len(refine), "noise_scale": refine[0], "guidance_scale": 1.0}
    return generation.denoise(pipe, second, len(refine), lambda s, n: progress(steps + s, total), watch(second))


def denoise_live(pipe, preset: presets.Preset, kwargs: dict, steps: int, progress: Callable[[int, int], None]):
    """`denoise` yielding ("preview", RGB strip) after each step of both stages, then ("video", (frames, audio))."""
    from pipelines import preview

    def work(emit):
        def on_latents_for(stage_kwargs):
            previewer = preview.Previewer(pipe, stage_kwargs)
            return lambda latents: emit(previewer(latents))

        return denoise(pipe, preset, kwargs, steps, progress, on_latents_for)

    yield from generation._stream(work, item="preview", result="video")
