"""Dance with Wan-Animate-2: the character image follows the driving video itself. No UI code here.

Unlike Animate 1, no skeleton or face crops are made: each segment of the driving video goes through a
reference-extraction pass (its keys and values cached in every transformer layer), then the segment is denoised
against that cache, and the next segment continues from this one's last frames (diffusers'
WanAnimate2(Distilled)ModularPipeline does all of it). The distilled checkpoint samples in 10 steps with
guidance off; a guidance above 1 turns classifier-free guidance back on through the pipeline's guider.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from pipelines import dance, runtime
from pipelines.store import Result


def segments(p: dance.Plan, frames: int) -> int:
    return p.segments(frames)  # the same segment arithmetic as Animate 1 (overlap of conditioning frames)


def _set_guidance(pipe, guidance_scale: float) -> None:
    from diffusers import ClassifierFreeGuidance

    if float(pipe.guider.guidance_scale) != float(guidance_scale):
        pipe.update_components(guider=ClassifierFreeGuidance(guidance_scale=float(guidance_scale)))


def _call_kwargs(p: dance.Plan, character, frames) -> dict:
    from PIL import Image

    call = dict(p.preset.call)
    return dict(prompt=p.prompt, negative_prompt=p.negative_prompt, image=character,
                driving_video=[Image.fromarray(f) for f in frames], driving_video_fps=None,  # read at `fps` already
                fps=p.fps, height=p.preset.defaults.height, width=p.preset.defaults.width,
                num_inference_steps=p.steps, generator=runtime.generator(p.seed), output_type="np",
                output="videos", **call)


def _gpu_seconds(p: dance.Plan, pipe, kwargs: dict, frames: int, progress=dance.noop) -> int:
    from pipelines import cost

    return cost.zerogpu_duration(dance.estimate(p, frames))


@runtime.gpu_task(duration=_gpu_seconds)
def _generate(p: dance.Plan, pipe, kwargs: dict, frames: int, progress: Callable[[dance.Step], None] = dance.noop):
    """Inside the GPU window: every segment's reference pass, denoising and decode."""
    total, calls = segments(p, frames), 0

    def on_forward(module, args, call_kwargs):
        nonlocal calls
        if call_kwargs.get("kv_cache_mode") == "cached":  # a denoising step (the reference pass is not one)
            calls += 1
            progress(dance.Step((calls - 1) // p.steps + 1, total, (calls - 1) % p.steps + 1, p.steps))

    handle = pipe.transformer.register_forward_pre_hook(on_forward, with_kwargs=True)
    try:
        return pipe(**kwargs)
    finally:
        handle.remove()


def run(p: dance.Plan, req: dance.Request, progress: Callable[[dance.Step], None] = dance.noop) -> Result:
    from pipelines import media

    started = time.perf_counter()
    pipe = runtime.pipeline(p.preset)
    _set_guidance(pipe, p.guidance_scale)
    loaded = time.perf_counter()
    character_path = dance._path(req.character_image, "character image")
    dance_path = dance._path(req.dance_video, "dance video")
    character = media.read_image(character_path, what="character image")
    clip = dance.read_dance(p, dance_path)
    prepared = time.perf_counter()
    videos = _generate(p, pipe, _call_kwargs(p, character, clip.frames), len(clip.frames), progress)
    done = time.perf_counter()
    video = media.to_uint8(videos[0])
    height, width = video.shape[1:3]
    settings = {"task": dance.TASK, "preset": p.preset.key, "repo_id": p.preset.repo_id, "fps": p.fps,
                "tiny": p.preset.tiny, "prompt": p.prompt, "negative_prompt": p.negative_prompt, "seed": p.seed,
                "mode": p.mode, "dance_is_skeleton": p.dance_is_skeleton, "max_seconds": p.max_seconds,
                "steps": p.steps, "guidance_scale": p.guidance_scale, "width": int(width), "height": int(height),
                "num_frames": len(video), "segments": segments(p, len(clip.frames)), **p.preset.call,
                "pose_source": "none: Wan-Animate-2 follows the driving video itself"}
    driving = dance.letterbox(clip.frames, int(width), int(height))  # shown where other models show the skeleton
    return Result(task=dance.TASK, frames=video, fps=p.fps, settings=settings, audio=clip.audio,
                  sample_rate=clip.sample_rate, previews={"skeleton": driving},
                  inputs={"character_image": str(req.character_image), "dance_video": str(req.dance_video)},
                  timings={"load_s": round(loaded - started, 3), "prepare_s": round(prepared - loaded, 3),
                           "gpu_s": round(done - prepared, 3)})
