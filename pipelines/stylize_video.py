"""Video stylization: give a video a new look while keeping its structure and motion. No UI code here.

Wan VACE follows a control video (depth maps or canny edges of the source) plus the prompt and an optional
style image; Wan video-to-video re-noises the source by `strength`; Lucy Edit follows an edit instruction.
A source longer than one model window is made window by window: each window after the first begins with the
last frames of the previous window's result (VACE keeps them as given frames; the others start from them),
and that overlap is cross-faded, so the look carries across the seams.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from pipelines import control, cost, generation, presets, runtime, user_loras
from pipelines.store import Result
from pipelines.checks import check_prompt, check_sampling, check_seed

TASK = "stylize_video"
AUDIO_RATE = 44_100   # the source's sound is carried over, so keep music quality (mono)
MAX_ASPECT = 21 / 9   # wider or taller sources are centre-cropped to this before resizing
VACE, V2V, LUCY = "WanVACEPipeline", "WanVideoToVideoPipeline", "LucyEditPipeline"

Progress = Callable[[int, int, str], None]  # (done, total, what is happening)


def noop(done: int, total: int, what: str = "") -> None:
    pass


@dataclass(frozen=True)
class Request:
    video: str | None
    prompt: str
    style_image: str | None = None
    negative_prompt: str = ""
    seed: int = 0
    preset: str = ""                 # "" picks the default (first) preset
    control: str = "depth"           # VACE presets: "depth" or "canny"
    start: float = 0.0               # seconds into the source
    max_seconds: float = 0.0         # 0: the whole source, which must then fit the preset's cap
    steps: int | None = None         # None: the preset's default
    guidance_scale: float | None = None
    strength: float | None = None    # video-to-video only: how far the result may move from the source
    hub_loras: str = ""              # your own LoRAs from the Hub, one per line (see pipelines/user_loras.py)


@dataclass(frozen=True)
class Rules:
    """How a preset handles long sources (the `stylize` table of its JSON entry)."""

    overlap_frames: int
    max_seconds: float
    strength: float | None = None


def rules(preset: presets.Preset) -> Rules:
    found = Rules(**preset.table("stylize"))
    if not 0 < found.overlap_frames < preset.defaults.num_frames - 1:
        raise ValueError(f"Preset {preset.key}: overlap {found.overlap_frames} must be below the window of "
                         f"{preset.defaults.num_frames} frames.")
    return found


def depth_model() -> presets.AuxModel:
    return presets.aux_models(TASK)["depth"]


# --------------------------------------------------------------------------------------------------- windows


@dataclass(frozen=True)
class Window:
    start: int     # first frame of the result this window makes
    stop: int      # one past its last frame
    length: int    # frames the model makes: a valid count >= stop - start (the extra are dropped)
    overlap: int   # leading frames that continue the previous window's result


def model_length(preset: presets.Preset, count: int) -> int:
    """The smallest frame count the model accepts (frame_step * k + 1) that holds `count` frames."""
    step = preset.limits.frame_step
    return math.ceil((max(count, preset.limits.min_frames) - 1) / step) * step + 1


def plan_windows(preset: presets.Preset, total: int, overlap: int) -> tuple[Window, ...]:
    size = preset.defaults.num_frames
    windows: list[Window] = []
    start = 0
    while True:
        stop = min(start + size, total)
        windows.append(Window(start, stop, model_length(preset, stop - start), overlap if windows else 0))
        if stop == total:
            return tuple(windows)
        start = stop - overlap


def join(results: list[np.ndarray], windows: tuple[Window, ...]) -> np.ndarray:
    """One video from the window results: each overlap fades from the earlier window to the later one."""
    video = results[0]
    for result, window in zip(results[1:], windows[1:]):
        n = window.overlap
        weight = (np.arange(1, n + 1, dtype=np.float32) / (n + 1))[:, None, None, None]
        faded = video[-n:] * (1.0 - weight) + result[:n] * weight
        video = np.concatenate([video[:-n], (faded + 0.5).astype(np.uint8), result[n:]])
    return video


# ---------------------------------------------------------------------------------------------------- source


def _probe(path: Path) -> tuple[float | None, float | None]:
    """The duration the container states and the frame rate of its video (None where it states none)."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return None, None
            stream = container.streams.video[0]
            rate = float(stream.average_rate or stream.guessed_rate or 0) or None
            if stream.duration and stream.time_base:
                return float(stream.duration * stream.time_base), rate
            return (container.duration / 1_000_000 if container.duration else None), rate
    except (av.error.FFmpegError, OSError):
        return None, None


def _too_long(seconds: float, start: float, cap: float, label: str) -> ValueError:
    return ValueError(f"The video runs {seconds:.1f} s from {start:g} s, but {label} restyles at most {cap:g} s. "
                      f"Set max_seconds to {cap:g} or less (and start to pick the part you want), "
                      "or trim the video.")


def _fit(frames: np.ndarray, preset: presets.Preset) -> np.ndarray:
    """Centre-crop to the model size's aspect, then resize: the picture is never stretched."""
    import cv2

    height, width = frames.shape[1:3]
    aspect = min(max(width / height, 1 / MAX_ASPECT), MAX_ASPECT)
    out_w, out_h = preset.size_for_aspect(aspect)
    target = out_w / out_h
    if width / height > target:
        crop = int(round(height * target))
        frames = frames[:, :, (width - crop) // 2:(width - crop) // 2 + crop]
    else:
        crop = int(round(width / target))
        frames = frames[:, (height - crop) // 2:(height - crop) // 2 + crop]
    return np.stack([cv2.resize(f, (out_w, out_h), interpolation=cv2.INTER_AREA) for f in frames])


def read_source(path, preset: presets.Preset, start: float, max_seconds: float, cap: float):
    """The source at the model's fps and size, trimmed, with its sound, and the source's own frame rate.

    Raises ValueError saying what is wrong: no file, not a video, damaged, too short, or over the cap.
    """
    from pipelines import media

    if not path:
        raise ValueError("No video was given: upload the video to restyle.")
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"The video file {path.name!r} was not found; upload it again.")
    fps = preset.defaults.fps
    label = preset.label.split(" ·")[0]
    declared, source_fps = _probe(path)
    if declared is not None and start >= declared:
        raise ValueError(f"The start ({start:g} s) is past the end of the video, which is {declared:.1f} s long; "
                         f"pick a start below {declared:.1f} s.")
    if not max_seconds and declared is not None and declared - start > cap + 1 / fps:
        raise _too_long(declared - start, start, cap, label)
    clip = media.read_video(path, fps=fps, start=start, max_seconds=max_seconds or cap + 1.0, with_audio=False)
    if not max_seconds and clip.seconds > cap + 1 / fps:
        raise _too_long(clip.seconds, start, cap, label)
    if declared is not None:
        expected = min(declared - start, max_seconds or math.inf)
        if clip.seconds < expected - max(0.25, 0.05 * expected):
            raise ValueError(f"The video file {path.name!r} is damaged or cut short: it says it lasts "
                             f"{expected:.1f} s from {start:g} s, but only {clip.seconds:.1f} s could be decoded. "
                             "Export or upload it again.")
    need = preset.limits.min_frames
    if len(clip.frames) < need:
        raise ValueError(f"The video is too short: {clip.seconds:.2f} s ({len(clip.frames)} frames at {fps} fps) "
                         f"from {start:g} s; {label} needs at least {need / fps:.2f} s ({need} frames).")
    clip.frames = _fit(clip.frames, preset)
    clip.audio = media.read_audio(path, start=start, max_seconds=clip.seconds, rate=AUDIO_RATE, missing_ok=True)
    clip.sample_rate = AUDIO_RATE
    return clip, source_fps or clip.fps


# ------------------------------------------------------------------------------------------------------ plan


@dataclass(frozen=True)
class Plan(generation.Plan):
    """A checked request with the source read and every default filled in: what the model will be asked."""

    control: str                 # "depth" or "canny"; used by VACE models only
    steps: int
    guidance_scale: float
    strength: float | None
    start: float
    max_seconds: float           # as asked: 0 means the whole source
    source_fps: float
    windows: tuple[Window, ...]
    frames: np.ndarray = field(repr=False, compare=False)       # the source at the model's size and fps
    audio: np.ndarray | None = field(repr=False, compare=False)
    style_image: Any = field(default=None, repr=False, compare=False)
    hub_loras: tuple = ()

    @property
    def width(self) -> int:
        return self.frames.shape[2]

    @property
    def height(self) -> int:
        return self.frames.shape[1]

    @property
    def num_frames(self) -> int:
        return len(self.frames)

    @property
    def uses_control(self) -> bool:
        """VACE follows a control video; the other models read the source itself."""
        return self.preset.pipeline_class == VACE

    @property
    def denoise_steps(self) -> int:
        """Steps run per window: video-to-video skips the noisiest (1 - strength) share."""
        return denoise_steps(self.steps, self.strength)

    def settings(self) -> dict:
        """Keys named like the endpoint's parameters hold their values, so a saved result can refill the tab."""
        return {"task": TASK, "preset": self.preset.key, "repo_id": self.preset.repo_id, "fps": self.fps,
                "tiny": self.preset.tiny, "prompt": self.prompt, "negative_prompt": self.negative_prompt,
                "seed": self.seed, "control": self.control, "control_video": self.uses_control,
                "has_style_image": self.style_image is not None, "steps": self.steps,
                "guidance_scale": self.guidance_scale, "strength": self.strength, "start": self.start,
                "max_seconds": self.max_seconds, "seconds": round(self.num_frames / self.fps, 3),
                "width": self.width, "height": self.height, "num_frames": self.num_frames,
                "source_fps": self.source_fps, "windows": len(self.windows),
                "window_frames": self.preset.defaults.num_frames, "overlap_frames": self.windows[-1].overlap,
                "audio": self.audio is not None, "hub_loras": user_loras.as_text(self.hub_loras)}


def denoise_steps(steps: int, strength: float | None) -> int:
    return steps if strength is None else min(int(steps * strength), steps)


def check_strength(preset: presets.Preset, strength, steps: int) -> float | None:
    if preset.pipeline_class != V2V:
        return None  # the other models do not start from the source's pixels
    value = rules(preset).strength if strength is None else float(strength)
    if not 0.0 < value <= 1.0:
        raise ValueError(f"Strength must be above 0 and at most 1, got {value:g}.")
    if denoise_steps(steps, value) < 1:
        raise ValueError(f"Strength {value:g} with {steps} steps runs no denoising step; raise the strength or "
                         f"the steps (strength x steps must be at least 1).")
    return value


def check_trim(start, max_seconds, cap: float) -> tuple[float, float]:
    try:
        start, max_seconds = float(start or 0.0), float(max_seconds or 0.0)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"start and max_seconds must be numbers of seconds, got {start!r} and "
                         f"{max_seconds!r}.") from exc
    if not (math.isfinite(start) and start >= 0):
        raise ValueError(f"The start must be 0 s or later, got {start:g} s.")
    if not (math.isfinite(max_seconds) and 0 <= max_seconds <= cap):
        raise ValueError(f"max_seconds must be between 0 (the whole video) and {cap:g} s for this model, "
                         f"got {max_seconds:g} s.")
    return start, max_seconds


def plan(req: Request) -> Plan:
    """Check a request, read the source and fill in defaults; raises ValueError naming the value to change."""
    from pipelines import media

    prompt = (req.prompt or "").strip()
    if not prompt:
        raise ValueError("The prompt is empty: describe the look you want, e.g. 'a watercolor painting, soft "
                         "pastel colors' (for Lucy Edit, an instruction such as 'make it snow').")
    prompt, negative = check_prompt(prompt, req.negative_prompt)
    seed = check_seed(req.seed)
    preset = presets.get(TASK, req.preset)
    steps, guidance = check_sampling(preset, req.steps, req.guidance_scale)
    strength = check_strength(preset, req.strength, steps)
    limits = rules(preset)
    start, max_seconds = check_trim(req.start, req.max_seconds, limits.max_seconds)
    uses_control = preset.pipeline_class == VACE
    kind = str(req.control or "depth").strip().lower()
    if uses_control and kind not in control.KINDS:
        raise ValueError(f"Unknown control {req.control!r}; choose one of: {', '.join(control.KINDS)}.")
    style = None
    if req.style_image:
        if not uses_control:
            raise ValueError(f"{preset.label.split(' ·')[0]} takes no style image; remove it, or pick a Wan VACE "
                             "model to steer the look with an image.")
        style = media.read_image(req.style_image, what="style image")
    clip, source_fps = read_source(req.video, preset, start, max_seconds, limits.max_seconds)
    windows = plan_windows(preset, len(clip.frames), limits.overlap_frames)
    return Plan(preset, prompt, negative, seed, kind, steps, guidance, strength, start, max_seconds,
                round(source_fps, 3), windows, clip.frames, clip.audio, style, user_loras.parse(req.hub_loras))


# ------------------------------------------------------------------------------------------------------ cost


def window_estimate(preset: presets.Preset, width: int, height: int, steps: int, guidance_scale: float,
                    strength: float | None, gpu: str = "ZeroGPU") -> cost.Estimate:
    """One full window of the model."""
    return cost.estimate(preset, width=width, height=height, num_frames=preset.defaults.num_frames,
                         steps=denoise_steps(steps, strength), guidance_scale=guidance_scale, gpu=gpu)


def estimate(p: Plan, gpu: str = "ZeroGPU") -> cost.Estimate:
    one = window_estimate(p.preset, p.width, p.height, p.steps, p.guidance_scale, p.strength, gpu)
    count = len(p.windows)
    return replace(one, seconds=round(one.seconds * count, 1), evaluations=one.evaluations * count)


# ------------------------------------------------------------------------------------------------- the model


def load(preset: presets.Preset):
    return runtime.pipeline(preset)  # the preset's flow shift is set by runtime.pipeline


def _to_images(frames: np.ndarray) -> list:
    from PIL import Image

    return [Image.fromarray(frame) for frame in frames]


def _window_video(window: Window, frames: np.ndarray, previous: np.ndarray | None) -> np.ndarray:
    """The window's input frames: the end of the previous result, then its own frames, padded to length."""
    own = frames[window.start + window.overlap:window.stop]
    parts = [previous[len(previous) - window.overlap:]] if window.overlap else []
    parts += [own, np.repeat(own[-1:], window.length - (window.stop - window.start), axis=0)]
    return np.concatenate(parts)


def _window_kwargs(p: Plan, window: Window, condition: np.ndarray, previous: np.ndarray | None) -> dict:
    video = _to_images(_window_video(window, condition, previous))
    kwargs: dict = {"video": video}
    kind = p.preset.pipeline_class
    if kind == VACE:
        from PIL import Image

        # Black mask frames are kept as given (the previous result), white ones are made from the control.
        keep, make = Image.new("L", (p.width, p.height), 0), Image.new("L", (p.width, p.height), 255)
        kwargs.update(mask=[keep] * window.overlap + [make] * (window.length - window.overlap),
                      reference_images=p.style_image, num_frames=window.length)
    elif kind == V2V:
        kwargs["strength"] = p.strength
    else:
        kwargs["num_frames"] = window.length
    return kwargs


def _step_reporter(progress: Progress, p: Plan, index: int):
    per_window, count = p.denoise_steps, len(p.windows)

    def on_step(pipe, step, timestep, tensors):
        progress(index * per_window + step + 1, count * per_window,
                 f"window {index + 1}/{count}, step {step + 1}/{per_window}")
        return tensors

    return on_step


def _gpu_seconds(p: Plan, condition=None, progress: Progress = noop) -> int:
    return cost.zerogpu_duration(estimate(p))


@runtime.gpu_task(duration=_gpu_seconds)
def _stylize(p: Plan, condition: np.ndarray, progress: Progress = noop) -> list[np.ndarray]:
    """Inside the GPU window: denoising and VAE decode, window after window (each needs the one before)."""
    from pipelines import media

    pipe = load(p.preset)  # already loaded by run(): a cache hit
    generator = runtime.generator(p.seed)
    results: list[np.ndarray] = []
    for index, window in enumerate(p.windows):
        output = pipe(**_window_kwargs(p, window, condition, results[-1] if results else None),
                      prompt=p.prompt, negative_prompt=p.negative_prompt, height=p.height, width=p.width,
                      num_inference_steps=p.steps, guidance_scale=p.guidance_scale, generator=generator,
                      output_type="np", callback_on_step_end=_step_reporter(progress, p, index), **p.preset.call)
        results.append(media.to_uint8(output.frames)[:window.stop - window.start])
    return results


def run(req: Request, progress: Progress = noop) -> Result:
    p = plan(req)
    started = time.perf_counter()
    previews = {}
    condition = p.frames
    if p.uses_control:
        progress(0, 1, f"{p.control} control video")
        condition = control.extract(p.control, p.frames, depth_model(),
                                    lambda done, total: progress(done, total, f"depth maps {done}/{total}"))
        previews["control"] = condition
    controlled = time.perf_counter()
    pipe = load(p.preset)  # download + load outside the GPU window
    with user_loras.applied(pipe, p.preset, p.hub_loras):  # fetched and checked before the GPU window
        loaded = time.perf_counter()
        results = _stylize(p, condition, progress)
    done = time.perf_counter()
    inputs = {"video": str(req.video), **({"style_image": str(req.style_image)} if req.style_image else {})}
    return Result(task=TASK, frames=join(results, p.windows), fps=p.fps, settings=p.settings(), audio=p.audio,
                  sample_rate=AUDIO_RATE, previews=previews, inputs=inputs,
                  timings={"control_s": round(controlled - started, 3), "load_s": round(loaded - controlled, 3),
                           "gpu_s": round(done - loaded, 3)})

