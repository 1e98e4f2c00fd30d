"""Image to video: a first frame, optionally a last frame, and a prompt in; a video between them out.

Wan 2.x image-to-video (`WanImageToVideoPipeline`, with `last_image` for first+last frame), Wan 2.2 TI2V-5B
(first frame only), LTX-2 keyframe conditioning (`LTX2ConditionPipeline`) and HunyuanVideo 1.5
(`HunyuanVideo15ImageToVideoPipeline`, first frame only, sized by its own buckets). The output takes the first
frame's aspect, snapped to the model's sizes; both frames are fitted to that size by cropping or padding.
No UI code here.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pipelines import generation, presets, runtime, user_loras
from pipelines.store import Result
from pipelines.checks import check_frames, check_prompt, check_sampling, check_seed

TASK = "image_to_video"
FITS = {"crop": "fill the frame, trimming what sticks out", "pad": "keep the whole picture, adding black bars"}
MAX_ASPECT = 21 / 9  # wider (or taller) pictures are cropped or padded to this instead of making a sliver of a video


def noop(step: int, total: int) -> None:
    pass


@dataclass(frozen=True)
class Request:
    image: str | None               # path of the first frame
    prompt: str
    last_image: str | None = None   # path of the last frame, for models that can end on one
    negative_prompt: str = ""
    seed: int = 0
    preset: str = ""                # "" picks the default (first) preset
    num_frames: int | None = None   # None: the preset's default
    fit: str = "crop"
    steps: int | None = None
    guidance_scale: float | None = None
    hub_loras: str = ""             # your own LoRAs from the Hub, one per line (see pipelines/user_loras.py)


@dataclass(frozen=True)
class FrameRules:
    """What a model accepts as input frames (the `inputs` table of a preset in the task's JSON)."""

    last_frame: str    # "none": first frame only; "optional"; "required": trained on first+last pairs only
    min_side: int      # pixels on the short side below which a picture carries too little detail
    first_last_trained: bool = False  # trained to end on a given last frame (not merely able to take one)

    @property
    def takes_last_frame(self) -> bool:
        return self.last_frame != "none"


def frame_rules(preset: presets.Preset) -> FrameRules:
    return FrameRules(**preset.table("inputs"))


@dataclass(frozen=True)
class Frames:
    """The input pictures fitted to the output size, plus where they came from."""

    width: int
    height: int
    first: object                   # PIL.Image, exactly width x height
    last: object | None
    sources: dict                   # "image"/"last_image" -> {"size": [w, h], "sha256": ...}


@dataclass(frozen=True)
class Plan(generation.Plan):
    """A checked request with every default filled in: exactly what the model will be asked."""

    fit: str
    frames: Frames
    num_frames: int
    steps: int
    guidance_scale: float
    hub_loras: tuple = ()

    @property
    def width(self) -> int:
        return self.frames.width

    @property
    def height(self) -> int:
        return self.frames.height

    def settings(self) -> dict:
        loras = [f"{lora['repo_id']}/{lora['weight_name']}" for lora in self.preset.loras]
        return {"task": TASK, "preset": self.preset.key, "repo_id": self.preset.repo_id, "loras": loras,
                "fps": self.fps, "tiny": self.preset.tiny,
                "prompt": self.prompt, "negative_prompt": self.negative_prompt, "seed": self.seed,
                "width": self.width, "height": self.height, "num_frames": self.num_frames, "steps": self.steps,
                "guidance_scale": self.guidance_scale, "fit": self.fit, "input_frames": self.frames.sources,
                "hub_loras": user_loras.as_text(self.hub_loras)}


# ---------------------------------------------------------------------------------------------- the frames


def model_name(preset: presets.Preset) -> str:
    return preset.label.split(" ·")[0]


def read_frame(path, what: str, rules: FrameRules, preset: presets.Preset):
    """An RGB picture from any common image file (EXIF rotation applied, transparency on white)."""
    from PIL import Image

    from pipelines import media

    try:
        image = media.read_image(path, what)
    except Image.DecompressionBombError as exc:
        raise ValueError(f"The {what} file {Path(path).name!r} is too large to open safely ({exc}). "
                         "Use a picture under 100 megapixels.") from exc
    width, height = image.size
    if min(width, height) < rules.min_side:
        raise ValueError(f"The {what} is {width}x{height} pixels; {model_name(preset)} needs at least "
                         f"{rules.min_side} pixels on the short side. Use a larger picture.")
    return image


def output_size(preset: presets.Preset, width: int, height: int) -> tuple[int, int]:
    """The model size nearest the picture's aspect (clamped to 21:9 either way)."""
    aspect = min(max(width / height, 1 / MAX_ASPECT), MAX_ASPECT)
    if "buckets" in preset.tables:
        return bucket_size(preset, aspect)
    return preset.size_for_aspect(aspect)


def bucket_size(preset: presets.Preset, aspect: float) -> tuple[int, int]:
    """(width, height) of the size bucket a model that sizes its video from the first frame picks for this aspect
    (HunyuanVideo 1.5: the buckets of about target_size^2 pixels on its VAE's grid, nearest in aspect). Asking the
    pipeline's own image processor keeps the fitted frame exactly the size the pipeline would crop it to."""
    from diffusers.pipelines.hunyuan_video1_5.image_processor import HunyuanVideo15ImageProcessor

    rule = preset.table("buckets")
    processor = HunyuanVideo15ImageProcessor(vae_scale_factor=int(rule["stride"]))
    height, width = processor.calculate_default_height_width(1000.0, 1000.0 * aspect, int(rule["target_size"]))
    return int(width), int(height)


def fit_frame(image, width: int, height: int, fit: str):
    """The picture at exactly width x height: scaled to cover and centre-cropped, or scaled to fit and padded."""
    from PIL import Image, ImageOps

    if fit == "crop":
        return ImageOps.fit(image, (width, height), method=Image.Resampling.LANCZOS)
    return ImageOps.pad(image, (width, height), method=Image.Resampling.LANCZOS, color=(0, 0, 0))


def _source(path, image) -> dict:
    return {"size": list(image.size), "sha256": hashlib.sha256(Path(path).read_bytes()).hexdigest()}


def check_fit(fit) -> str:
    if fit not in FITS:
        raise ValueError(f"Unknown fit {fit!r}; choose one of: {', '.join(FITS)}.")
    return fit


def prepare_frames(preset: presets.Preset, image, last_image, fit: str) -> Frames:
    """Read, check and fit the first (and last) frame; raises ValueError naming what to change."""
    rules = frame_rules(preset)
    if not image:
        raise ValueError("Add a first frame: the picture the video starts from (PNG, JPEG or WebP).")
    if last_image and not rules.takes_last_frame:
        able = [model_name(p) for p in presets.presets(TASK).values() if frame_rules(p).takes_last_frame]
        raise ValueError(f"{model_name(preset)} animates from a first frame only and cannot end on a given last "
                         f"frame. Remove the last frame, or pick a model that can: {', '.join(able)}.")
    if not last_image and rules.last_frame == "required":
        able = [model_name(p) for p in presets.presets(TASK).values() if frame_rules(p).last_frame != "required"]
        raise ValueError(f"{model_name(preset)} is made for a first and a last frame together: add a last frame, "
                         f"or pick a model that starts from a first frame alone: {', '.join(able)}.")
    first = read_frame(image, "first frame", rules, preset)
    width, height = output_size(preset, *first.size)
    sources = {"image": _source(image, first)}
    last = None
    if last_image:
        last_source = read_frame(last_image, "last frame", rules, preset)
        sources["last_image"] = _source(last_image, last_source)
        last = fit_frame(last_source, width, height, fit)
    return Frames(width, height, fit_frame(first, width, height, fit), last, sources)


def default_preset(last_image) -> presets.Preset:
    """The task's default model; with a last frame, the first model trained for first+last frame.

    Wan 2.2 I2V A14B (the default) takes a last frame mechanically, but its official code has no first+last
    mode (Wan-Video/Wan2.2 generate.py: i2v takes one image); Wan 2.1 FLF2V was trained for it."""
    table = presets.presets(TASK)
    if last_image:
        trained = [p for p in table.values() if frame_rules(p).first_last_trained]
        if trained:
            return trained[0]
    return next(iter(table.values()))


def plan(req: Request) -> Plan:
    """Check a request and fill in defaults; raises ValueError naming the value to change."""
    preset = presets.get(TASK, req.preset) if req.preset else default_preset(req.last_image)
    fit = check_fit(req.fit)
    frames = prepare_frames(preset, req.image, req.last_image, fit)
    prompt, negative = check_prompt(req.prompt, req.negative_prompt)
    steps, guidance = check_sampling(preset, req.steps, req.guidance_scale)
    return Plan(preset, prompt, negative, check_seed(req.seed), fit, frames,
                check_frames(preset, req.num_frames), steps, guidance, user_loras.parse(req.hub_loras))


estimate = generation.estimate


# ----------------------------------------------------------------------------------------------- generating


def _call_kwargs(p: Plan) -> dict:
    kwargs = generation.call_kwargs(p)
    if p.preset.pipeline_class.startswith("LTX2"):
        from diffusers.pipelines.ltx2.pipeline_ltx2_condition import LTX2VideoCondition

        # Latent index 0 is the first frame; -1 the last latent frame, i.e. the end of the video.
        kwargs["conditions"] = [LTX2VideoCondition(frames=p.frames.first, index=0)]
        if p.frames.last is not None:
            kwargs["conditions"].append(LTX2VideoCondition(frames=p.frames.last, index=-1))
    else:
        kwargs["image"] = p.frames.first
        if p.frames.last is not None:
            kwargs["last_image"] = p.frames.last
    if "buckets" in p.preset.tables:  # the pipeline sizes the video from the image (already fitted to its bucket)
        kwargs.pop("width")
        kwargs.pop("height")
    return kwargs


@runtime.gpu_task(duration=generation.gpu_seconds)
def _generate(p: Plan, progress: Callable[[int, int], None] = noop):
    """Inside the GPU window: denoising and VAE decode only."""
    pipe = runtime.pipeline(p.preset)  # already loaded by run(): a cache hit
    return generation.denoise(pipe, _call_kwargs(p), p.steps, progress)


@runtime.gpu_task(duration=generation.gpu_seconds)
def _generate_live(p: Plan, progress: Callable[[int, int], None] = noop):
    """_generate, yielding a low-resolution preview after each step before the video."""
    pipe = runtime.pipeline(p.preset)
    yield from generation.denoise_live(pipe, _call_kwargs(p), p.steps, progress)


def run(req: Request, progress: Callable[[int, int], None] = noop) -> Result:
    return generation.last_result(run_live(req, progress, preview=False))


def run_live(req: Request, progress: Callable[[int, int], None] = noop, preview: bool = True):
    """Yields ("preview", RGB strip) while denoising (when `preview`), then ("result", Result)."""
    p = plan(req)
    started = time.perf_counter()
    pipe = runtime.pipeline(p.preset)  # download + load (and distill LoRA fusing) outside the GPU window
    with user_loras.applied(pipe, p.preset, p.hub_loras):  # fetched and checked before the GPU window
        loaded = time.perf_counter()
        if preview:
            frames, audio = yield from generation.passing_previews(_generate_live(p, progress))
        else:
            frames, audio = _generate(p, progress)
    done = time.perf_counter()
    from pipelines import media

    inputs = {name: str(path) for name, path in (("image", req.image), ("last_image", req.last_image)) if path}
    result = Result(task=TASK, frames=media.to_uint8(frames), fps=p.fps, settings=p.settings(), inputs=inputs,
                    timings={"load_s": round(loaded - started, 3), "gpu_s": round(done - loaded, 3)})
    if audio is not None:
        result.audio = media.to_mono(audio)
        result.sample_rate = runtime.vocoder_rate(p.preset)
    yield "result", result
