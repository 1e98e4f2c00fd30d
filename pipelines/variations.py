"""Variations: the same text- or image-to-video request with 2 to 4 seeds, in one GPU window whose reserved
duration covers every video; each video is a result of its own. No UI code here."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from pipelines import checks, cost, generation, media, runtime, speed, user_loras
from pipelines import image_to_video, text_to_video
from pipelines.store import Result

COUNTS = (2, 3, 4)
MODULES = {text_to_video.TASK: text_to_video, image_to_video.TASK: image_to_video}


def noop(step: int, total: int) -> None:
    pass


def seeds(first: int, count: int) -> list[int]:
    """`count` distinct seeds starting at `first` (wrapping inside the valid range)."""
    if count not in COUNTS:
        raise ValueError(f"Variations come in {COUNTS[0]} to {COUNTS[-1]}; {count} were asked for.")
    return [(int(first) + i) % (checks.MAX_SEED + 1) for i in range(count)]


def _call_kwargs(p) -> dict:
    return image_to_video._call_kwargs(p) if isinstance(p, image_to_video.Plan) else generation.call_kwargs(p)


def gpu_seconds(plans: list, *args, **kwargs) -> int:
    """The ZeroGPU reservation: every variation's estimate, added up."""
    return sum(cost.zerogpu_duration(generation.estimate(p)) for p in plans)


@runtime.gpu_task(duration=gpu_seconds)
def _generate_all(plans: list, progress: Callable[[int, int], None] = noop) -> list:
    """Inside one GPU window: each variation's denoising and decode, one after another."""
    pipe = runtime.pipeline(plans[0].preset)
    total = sum(p.steps for p in plans)
    outputs = []
    for index, p in enumerate(plans):
        done = sum(q.steps for q in plans[:index])
        with speed.cache_hooks(pipe, getattr(p, "cache", "off")):
            outputs.append(generation.denoise(pipe, _call_kwargs(p), p.steps,
                                              lambda step, _total, done=done: progress(done + step, total)))
    return outputs


def run(task: str, req, count: int, progress: Callable[[int, int], None] = noop) -> list[Result]:
    """One Result per seed (req.seed, req.seed + 1, ...), all made in one GPU window."""
    module = MODULES[task]
    plans = [module.plan(replace(req, seed=seed)) for seed in seeds(req.seed, count)]
    started = time.perf_counter()
    pipe = runtime.pipeline(plans[0].preset)  # download + load outside the GPU window
    with user_loras.applied(pipe, plans[0].preset, plans[0].hub_loras):
        loaded = time.perf_counter()
        outputs = _generate_all(plans, progress)
    seconds = round((time.perf_counter() - loaded) / count, 3)
    inputs = {name: str(getattr(req, name)) for name in ("image", "last_image") if getattr(req, name, None)}
    results = []
    for index, (p, (frames, audio)) in enumerate(zip(plans, outputs)):
        settings = {**p.settings(), "variation": index + 1, "variations": count}
        result = Result(task=task, frames=media.to_uint8(frames), fps=p.fps, settings=settings, inputs=inputs,
                        timings={"load_s": round(loaded - started, 3), "gpu_s": seconds})
        if audio is not None:
            result.audio = media.to_mono(audio)
            result.sample_rate = runtime.vocoder_rate(p.preset)
        results.append(result)
    return results
