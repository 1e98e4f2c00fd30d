"""Text to video: a prompt in, a video out (Wan 2.x, LTX-2, with the latent upsampler for two-stage presets,
HunyuanVideo 1.5). No UI code here."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from pipelines import generation, presets, runtime, speed, two_stage, user_loras
from pipelines.checks import check_frames, check_prompt, check_sampling, check_seed
from pipelines.store import Result

TASK = "text_to_video"


def noop(step: int, total: int) -> None:
    pass


@dataclass(frozen=True)
class Request:
    prompt: str
    negative_prompt: str = ""
    seed: int = 0
    preset: str = ""                 # "" picks the default (first) preset
    num_frames: int | None = None    # None: the preset's default
    aspect: str = "16:9"
    steps: int | None = None
    guidance_scale: float | None = None
    cache: str = "off"               # reuse transformer outputs between steps: "off", "first-block", "taylorseer"
    hub_loras: str = ""              # your own LoRAs from the Hub, one per line (see pipelines/user_loras.py)


@dataclass(frozen=True)
class Plan(generation.Plan):
    """A checked request with every default filled in: exactly what the model will be asked."""

    aspect: str
    width: int
    height: int
    num_frames: int
    steps: int
    guidance_scale: float
    cache: str
    hub_loras: tuple = ()

    def settings(self) -> dict:
        values = asdict(self)
        values.pop("preset")
        values["hub_loras"] = user_loras.as_text(self.hub_loras)
        return {"task": TASK, "preset": self.preset.key, "repo_id": self.preset.repo_id, "fps": self.fps,
                "tiny": self.preset.tiny, **values}


def plan(req: Request) -> Plan:
    """Check a request and fill in defaults; raises ValueError naming the value to change."""
    prompt, negative = check_prompt(req.prompt, req.negative_prompt)
    preset = presets.get(TASK, req.preset)
    if req.aspect not in presets.ASPECTS:
        raise ValueError(f"Unknown aspect {req.aspect!r}; choose one of: {', '.join(presets.ASPECTS)}.")
    width, height = preset.size_for_aspect(presets.ASPECTS[req.aspect])
    steps, guidance = check_sampling(preset, req.steps, req.guidance_scale)
    if req.cache not in speed.CACHE_KINDS:
        raise ValueError(f"Unknown cache {req.cache!r}; choose one of: {', '.join(speed.CACHE_KINDS)}.")
    caches = preset.tables.get("cache", {}).get("kinds", speed.CACHE_KINDS)  # what the model's blocks can take
    if req.cache not in caches:
        raise ValueError(f"{preset.label.split(' ·')[0]} cannot use the {req.cache} cache; choose: {', '.join(caches)}.")
    return Plan(preset, prompt, negative, check_seed(req.seed), req.aspect, width, height,
                check_frames(preset, req.num_frames), steps, guidance, req.cache, user_loras.parse(req.hub_loras))


estimate = generation.estimate


@runtime.gpu_task(duration=generation.gpu_seconds)
def _generate(p: Plan, progress: Callable[[int, int], None] = noop):
    """Inside the GPU window: denoising and VAE decode only."""
    pipe = runtime.pipeline(p.preset)  # already loaded by run(): a cache hit
    with speed.cache_hooks(pipe, p.cache):
        if two_stage.has_upsampler(p.preset):
            return two_stage.denoise(pipe, p.preset, generation.call_kwargs(p), p.steps, progress)
        return generation.denoise(pipe, generation.call_kwargs(p), p.steps, progress)


@runtime.gpu_task(duration=generation.gpu_seconds)
def _generate_live(p: Plan, progress: Callable[[int, int], None] = noop):
    """_generate, yielding a low-resolution preview after each step before the video."""
    pipe = runtime.pipeline(p.preset)
    with speed.cache_hooks(pipe, p.cache):
        if two_stage.has_upsampler(p.preset):
            yield from two_stage.denoise_live(pipe, p.preset, generation.call_kwargs(p), p.steps, progress)
        else:
            yield from generation.denoise_live(pipe, generation.call_kwargs(p), p.steps, progress)


def run(req: Request, progress: Callable[[int, int], None] = noop) -> Result:
    return generation.last_result(run_live(req, progress, preview=False))


def run_live(req: Request, progress: Callable[[int, int], None] = noop, preview: bool = True):
    """Yields ("preview", RGB strip) while denoising (when `preview`), then ("result", Result)."""
    p = plan(req)
    started = time.perf_counter()
    pipe = runtime.pipeline(p.preset)  # download + load outside the GPU window
    with user_loras.applied(pipe, p.preset, p.hub_loras):  # fetched and checked before the GPU window
        loaded = time.perf_counter()
        if preview:
            frames, audio = yield from generation.passing_previews(_generate_live(p, progress))
        else:
            frames, audio = _generate(p, progress)
    done = time.perf_counter()
    from pipelines import media

    result = Result(task=TASK, frames=media.to_uint8(frames), fps=p.fps, settings=p.settings(),
                    timings={"load_s": round(loaded - started, 3), "gpu_s": round(done - loaded, 3)})
    if audio is not None:
        result.audio = media.to_mono(audio)
        result.sample_rate = runtime.vocoder_rate(p.preset)
    yield "result", result
