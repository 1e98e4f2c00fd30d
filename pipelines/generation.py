"""What text-to-video and image-to-video share: the estimate of a plan, the diffusers call, the step loop.

A plan here is any checked request with `preset`, `prompt`, `negative_prompt`, `seed`, `width`, `height`,
`num_frames`, `steps`, `guidance_scale` and `fps`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pipelines import cost, presets, runtime, speed


@dataclass(frozen=True)
class Plan:
    """What every task's checked request starts with; each task's Plan adds its own fields after these."""

    preset: presets.Preset
    prompt: str
    negative_prompt: str
    seed: int

    @property
    def fps(self) -> int:
        return self.preset.defaults.fps


def estimate(p, gpu: str = "ZeroGPU") -> cost.Estimate:
    return cost.estimate(p.preset, width=p.width, height=p.height, num_frames=p.num_frames, steps=p.steps,
                         guidance_scale=p.guidance_scale, gpu=gpu)


def gpu_seconds(p, *args, **kwargs) -> int:
    """The ZeroGPU reservation for a plan (receives the GPU function's own arguments)."""
    return cost.zerogpu_duration(estimate(p))


def call_kwargs(p) -> dict:
    """The diffusers __call__ arguments every video pipeline takes, plus the preset's own fixed ones."""
    kwargs = dict(prompt=p.prompt, negative_prompt=negative_prompt(p), width=p.width, height=p.height,
                  num_frames=p.num_frames, num_inference_steps=p.steps, guidance_scale=p.guidance_scale,
                  generator=runtime.generator(p.seed), output_type="np")
    if p.preset.pipeline_class.startswith("LTX2"):
        kwargs["frame_rate"] = float(p.fps)
        kwargs["use_cross_timestep"] = ltx2_cross_timestep(p.preset)
    extra = dict(p.preset.call)
    if len(extra.get("sigmas", [])) != p.steps:  # a distilled schedule only fits its own step count
        extra.pop("sigmas", None)
    return {**kwargs, **extra}


def negative_prompt(p) -> str:
    """The visitor's negative prompt, else the one the model's official code uses (the preset's `prompt` table)."""
    return p.negative_prompt or p.preset.tables.get("prompt", {}).get("negative_prompt", "")


def ltx2_cross_timestep(preset: presets.Preset) -> bool:
    """LTX-2.3 and later modulate cross-attention with the other modality's sigma; LTX-2.0 with its own
    (diffusers pipeline_ltx2_condition.py, `use_cross_timestep`: True is 2.3/2.5, False the LTX-2.0 behaviour).
    The model version comes from the preset's `model` table, so a 2.0 checkpoint never runs the 2.3 way."""
    version = preset.tables.get("model", {}).get("version")
    if version is None:
        raise ValueError(f"Preset {preset.key} runs an LTX-2 pipeline but names no model version "
                         "(add \"model\": {\"version\": ...} to its JSON entry).")
    major, minor = (int(part) for part in str(version).split(".")[:2])
    return (major, minor) >= (2, 3)


def denoise(pipe, kwargs: dict, steps: int, progress: Callable[[int, int], None],
            on_latents: Callable[[object], None] | None = None):
    """Run the pipeline, reporting each finished step (and its latents to `on_latents`); returns
    (frames, audio or None)."""

    def on_step(pipe_, step, timestep, tensors):
        progress(step + 1, steps)  # first: a Stop pressed meanwhile ends the run before another preview
        if on_latents is not None:
            on_latents(tensors["latents"])
        return tensors

    if not getattr(pipe, "_studio_compiled", False):  # on ZeroGPU with STUDIO_AOTI=1: compile on first use
        pipe._studio_compiled = True
        example = {**kwargs, "num_inference_steps": 1, "generator": runtime.generator(0)}  # leaves the seed alone
        speed.compile_ahead_of_time(pipe, lambda: pipe(**example))
    from pipelines import schedules

    schedules.share_generator(pipe, kwargs.get("generator"))  # re-noising samplers draw from the seed too
    if getattr(pipe, "guider", None) is not None:  # guidance in a guider component, no step callback
        return _guider_pipeline_call(pipe, kwargs, steps, progress, on_latents)
    with schedules.sigmas_as_given(pipe, kwargs):
        output = pipe(**kwargs, callback_on_step_end=on_step)
    return output.frames, getattr(output, "audio", None)


def denoise_live(pipe, kwargs: dict, steps: int, progress: Callable[[int, int], None]):
    """`denoise` that also shows its work: yields ("preview", RGB strip) after each step, then
    ("video", (frames, audio)). A generator, so previews cross the ZeroGPU process boundary as they come."""
    from pipelines import preview

    previewer = preview.Previewer(pipe, kwargs)
    yield from _stream(lambda emit: denoise(pipe, kwargs, steps, progress,
                                                        on_latents=lambda latents: emit(previewer(latents))),
                                   item="preview", result="video")


def _stream(work: Callable[[Callable[[object], None]], object], item: str, result: str):
    """Run `work(emit)` in a thread and yield (item, x) for every emit(x) as it happens, then (result, its
    return value); its exception (Stop included) is raised here."""
    import contextvars
    import queue
    import threading

    events: queue.Queue = queue.Queue()

    def target():
        try:
            events.put((result, work(lambda value: events.put((item, value)))))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer below
            events.put(("error", exc))

    thread = threading.Thread(target=contextvars.copy_context().run, args=(target,), daemon=True)
    thread.start()
    try:
        while True:
            kind, value = events.get()
            if kind == "error":
                raise value
            yield kind, value
            if kind == result:
                return
    finally:
        thread.join()


def passing_previews(events):
    """Re-yield the ("preview", image) events of a live GPU run; returns the (frames, audio) it ended with."""
    value = None
    for kind, value in events:
        if kind == "preview":
            yield kind, value
    return value


def last_result(events):
    """The Result at the end of a run_live stream (previews dropped)."""
    for kind, value in events:
        if kind == "result":
            return value
    raise RuntimeError("the generation ended without a result")


def _guider_pipeline_call(pipe, kwargs: dict, steps: int, progress: Callable[[int, int], None],
                          on_latents: Callable[[object], None] | None = None):
    """Pipelines whose guidance lives in a guider component and that take no step callback (HunyuanVideo 1.5):
    the guidance goes to the guider, and each scheduler step reports progress (and its latents)."""
    kwargs = dict(kwargs)
    guidance = kwargs.pop("guidance_scale", None)
    if guidance is not None and float(pipe.guider.guidance_scale) != float(guidance):
        pipe.guider = pipe.guider.new(guidance_scale=float(guidance))
    done, step = 0, pipe.scheduler.step

    def counted(*args, **step_kwargs):
        nonlocal done
        result = step(*args, **step_kwargs)
        done += 1
        progress(done, steps)
        if on_latents is not None:
            on_latents(result[0] if isinstance(result, tuple) else result.prev_sample)
        return result

    pipe.scheduler.step = counted
    try:
        output = pipe(**kwargs)
    finally:
        del pipe.scheduler.step  # back to the class's own method
    return output.frames, getattr(output, "audio", None)
