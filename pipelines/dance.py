"""Pose-driven dance: a character image performs the dance in a driving video. No UI code here.

Wan 2.2 Animate (default) takes the character image, a skeleton video and a face-crop video; its replacement
mode also takes the driving video's background and a mask of where the dancer is, and puts the character
into the original scene. Long dances run as segments, each continuing from the previous one's last frames.
Wan 2.1 VACE (small GPUs) takes the skeleton video as its control video and the character as reference image.

Pre-processing, in GPU windows of its own before the denoising one: Wan-Animate's own detector and whole-body
ViTPose find the dancer's 133 keypoints per frame (pipelines/wholebody.py, pipelines/pose.py); in animation mode
the skeleton is retargeted to the character's body size and place, and drawn as Wan-Animate's preprocessing
draws it; face crops are the official box around the 68 face landmarks. An uploaded skeleton video skips all
of it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from pipelines import cost, generation, limits, person_mask, pose, presets, runtime, tiny, wholebody
from pipelines.store import Result
from pipelines.checks import check_sampling, check_seed

TASK = "dance"
MODES = ("animate", "replace")
DEFAULT_PROMPT = "A person dancing, full body, smooth natural motion, high quality"
POSE_SOURCE = "YOLOv10-m + ViTPose-H whole-body (Wan-Animate preprocessing)"
MASK_TINT = (40, 60, 160)     # the replacement mask in the preview: a dim blue the skeleton's colours stand out on
MASK_SOURCE = "SAM 2 Hiera-L prompted with 8 body points on key frames, then dilated (Wan-Animate preprocessing)"
ANIMATE_2_CLASSES = ("WanAnimate2DistilledModularPipeline", "WanAnimate2ModularPipeline")


@dataclass(frozen=True)
class Step:
    """One denoising step of one segment, for progress reports."""

    segment: int
    segments: int
    step: int
    steps: int

    @property
    def done(self) -> int:
        return (self.segment - 1) * self.steps + self.step

    @property
    def total(self) -> int:
        return self.segments * self.steps

    def __str__(self) -> str:
        return f"segment {self.segment}/{self.segments}, step {self.step}/{self.steps}"


def noop(step: Step) -> None:
    pass


@dataclass(frozen=True)
class Request:
    character_image: str | Path
    dance_video: str | Path
    prompt: str = ""
    negative_prompt: str = ""
    seed: int = 0
    preset: str = ""                  # "" picks the default (first) preset
    mode: str = "animate"             # "replace" puts the character into the dance video's own scene
    dance_is_skeleton: bool = False   # the dance video already is a rendered skeleton: skip pose extraction
    max_seconds: float | None = None  # None: as much of the dance as the preset allows
    steps: int | None = None
    guidance_scale: float | None = None


@dataclass(frozen=True)
class Plan(generation.Plan):
    """A checked request with every default filled in (the media are checked when they are read)."""

    mode: str
    dance_is_skeleton: bool
    max_seconds: float
    steps: int
    guidance_scale: float

    @property
    def animate(self) -> bool:
        """Wan Animate 1 or 2: long dances run as segments."""
        return self.preset.pipeline_class in ("WanAnimatePipeline", *ANIMATE_2_CLASSES)

    @property
    def animate2(self) -> bool:
        """Wan-Animate-2 follows the driving video itself: no skeleton or face crops are made for it."""
        return self.preset.pipeline_class in ANIMATE_2_CLASSES

    def max_frames(self) -> int:
        return min(self.preset.limits.max_frames, int(round(self.max_seconds * self.fps)))

    def segments(self, frames: int) -> int:
        """How many segments WanAnimatePipeline splits `frames` into (the same arithmetic as its __call__)."""
        if not self.animate:
            return 1
        length, overlap = self.preset.call["segment_frame_length"], self.preset.call["prev_segment_conditioning_frames"]
        stride = length - overlap
        return -(-(frames - overlap) // stride)


@dataclass
class Inputs:
    """Everything the model is given, prepared outside the GPU window."""

    character: object                          # PIL image
    skeleton: np.ndarray                        # (T, H, W, 3) uint8, what the model follows (shown to the user)
    faces: np.ndarray | None = None             # (T, S, S, 3) face crops (Animate)
    background: np.ndarray | None = None        # (T, H, W, 3) the scene without the dancer (replace mode)
    mask: np.ndarray | None = None              # (T, H, W) 255 where the character goes (replace mode)
    audio: np.ndarray | None = None
    sample_rate: int = 16_000
    facts: dict = field(default_factory=dict)   # how the inputs were made, for the settings

    @property
    def frames(self) -> int:
        return len(self.skeleton)

    def preview(self) -> np.ndarray:
        """What the person is shown of the model's inputs: the skeleton; in replacement mode drawn over the scene
        the model keeps, with the masked place (black for the model) tinted so it stands out."""
        if self.mask is None:
            return self.skeleton
        scene = np.where(self.mask[..., None] > 0, np.array(MASK_TINT, np.uint8), self.background)
        return np.where(self.skeleton.any(axis=-1, keepdims=True), self.skeleton, scene).astype(np.uint8)

    @property
    def width(self) -> int:
        return self.skeleton.shape[2]

    @property
    def height(self) -> int:
        return self.skeleton.shape[1]


# ----------------------------------------------------------------------------------------------- checks


def check_prompt(prompt: str | None, negative_prompt: str | None) -> tuple[str, str]:
    prompt = (prompt or "").strip() or DEFAULT_PROMPT  # the motion comes from the video; a prompt is optional
    limits.check_prompt_length(prompt, negative_prompt or "")
    return prompt, (negative_prompt or "").strip()


def _path(value, what: str) -> Path:
    if value is None or str(value).strip() == "":
        raise ValueError(f"No {what} was given: upload one.")
    path = Path(value)
    if not path.is_file():
        raise ValueError(f"The {what} file {path.name!r} does not exist; upload it again.")
    return path


def plan(req: Request) -> Plan:
    """Check a request's settings and fill in defaults; raises ValueError naming the value to change.
    The files are checked when they are read (`prepare`)."""
    prompt, negative = check_prompt(req.prompt, req.negative_prompt)
    preset = presets.get(TASK, req.preset)
    if req.mode not in MODES:
        raise ValueError(f"Unknown mode {req.mode!r}; choose 'animate' (the character dances in its own picture) "
                         "or 'replace' (the character takes the dancer's place in the video).")
    label = preset.label.split(" ·")[0]
    if req.mode == "replace" and preset.pipeline_class != "WanAnimatePipeline":
        raise ValueError(f"{label} has no replacement mode; pick Wan 2.2 Animate or the 'animate' mode.")
    if req.mode == "replace" and req.dance_is_skeleton:
        raise ValueError("Replacement mode needs the original dance video (its scene is kept), not a skeleton "
                         "video: upload the real video, or use the 'animate' mode.")
    longest, shortest = preset.limits.max_frames / preset.defaults.fps, preset.limits.min_frames / preset.defaults.fps
    try:
        seconds = longest if req.max_seconds is None else float(req.max_seconds)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"max_seconds must be a number of seconds, got {req.max_seconds!r}.") from exc
    if not shortest - 1e-6 <= seconds <= longest + 1e-6:
        raise ValueError(f"{label} makes {shortest:.1f} to {longest:g} s of dance; {seconds:g} s were asked for.")
    steps, guidance = check_sampling(preset, req.steps, req.guidance_scale)
    return Plan(preset, prompt, negative, check_seed(req.seed), req.mode, bool(req.dance_is_skeleton), seconds, steps,
                guidance)


def estimate(p: Plan, frames: int | None = None, width: int | None = None, height: int | None = None,
             gpu: str = "ZeroGPU") -> cost.Estimate:
    """Memory and time for `frames` frames (default: the longest the plan allows), all segments together."""
    frames = frames or p.max_frames()
    per_call = p.preset.call.get("segment_frame_length", frames) if p.animate else frames
    one = cost.estimate(p.preset, width=width or p.preset.defaults.width, height=height or p.preset.defaults.height,
                        num_frames=per_call, steps=p.steps, guidance_scale=p.guidance_scale, gpu=gpu)
    return replace(one, seconds=round(one.seconds * p.segments(frames), 1),
                   evaluations=one.evaluations * p.segments(frames))


def preprocess_seconds(p: Plan, frames: int) -> float:
    """GPU seconds of the preparation windows before the denoising one (for the pre-flight line): the clip's
    keypoints, the character image's in animation mode, SAM 2's masks in replacement mode. Animate-2 follows
    the driving video itself: none."""
    if p.animate2:
        return 0.0
    seconds = wholebody.window_seconds(frames)
    if p.mode == "animate":
        seconds += wholebody.window_seconds(1)
    else:
        seconds += person_mask.window_seconds(frames)
    return seconds


# ---------------------------------------------------------------------------------------- pre-processing


def output_size(p: Plan, aspect: float) -> tuple[int, int]:
    """The preset's pixel area at the given aspect, on the model's grid."""
    return p.preset.size_for_aspect(aspect)


def letterbox(frames: np.ndarray, width: int, height: int) -> np.ndarray:
    """Frames fitted inside width x height with black bars, the same framing as the model's image resize."""
    import cv2

    scale, offset = pose.fit((frames.shape[2], frames.shape[1]), (width, height))
    matrix = np.float32([[scale, 0, offset[0]], [0, scale, offset[1]]])
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return np.stack([cv2.warpAffine(f, matrix, (width, height), flags=interpolation, borderValue=0) for f in frames])


def read_dance(p: Plan, path: Path):
    from pipelines import media

    clip = media.read_video(path, fps=p.fps, max_seconds=p.max_frames() / p.fps, what="dance video")
    count, low = len(clip.frames), p.preset.limits.min_frames
    if count < low:
        raise ValueError(f"The dance video {path.name!r} gives {count} frame(s) at {p.fps} fps; at least "
                         f"{low} ({low / p.fps:.1f} s) are needed. Upload a longer video.")
    if not p.animate:  # VACE makes one clip of 4k + 1 frames
        step = p.preset.limits.frame_step
        keep = (count - 1) // step * step + 1
        clip.frames = clip.frames[:keep]
    if clip.audio is not None:
        clip.audio = clip.audio[: int(round(len(clip.frames) / p.fps * clip.sample_rate))]
    return clip


def _pose_models():
    return pose.load()


def _mask_models():
    return person_mask.load()


def prepare(p: Plan, character_image, dance_video, face_size: int = 0) -> Inputs:
    """Read and check the media, find the poses, and make every video the model takes."""
    from pipelines import media

    character_path, dance_path = _path(character_image, "character image"), _path(dance_video, "dance video")
    character = media.read_image(character_path, what="character image")
    clip = read_dance(p, dance_path)
    frames = clip.frames
    video_size = (frames.shape[2], frames.shape[1])
    aspect = video_size[0] / video_size[1] if p.mode == "replace" else character.width / character.height
    width, height = output_size(p, aspect)
    inputs = Inputs(character=character, skeleton=np.empty((0, height, width, 3), np.uint8), audio=clip.audio,
                    sample_rate=clip.sample_rate)

    if p.dance_is_skeleton:
        inputs.skeleton = letterbox(frames, width, height)
        if face_size:  # no face to follow: the model's own "no face" input (black, as its guidance uses)
            inputs.faces = np.zeros((len(frames), face_size, face_size, 3), np.uint8)
        inputs.facts = {"pose_source": "uploaded skeleton video", "face_source": "none", "retarget_scale": None}
        return inputs

    models = _pose_models()
    character_pose = None
    if p.mode == "animate":  # first, so a wrong character image fails before the video's many frames
        character_pose = pose.extract(models, [np.asarray(character)])[0]
        if not pose.usable(character_pose):
            raise ValueError(f"No person was found in the character image {character_path.name!r}. Use a picture "
                             "where the character's body (head, shoulders, hips) is clearly visible.")
    found = pose.extract(models, frames)
    seen = sum(pose.usable(q) for q in found)
    if not seen:
        raise ValueError(f"No person was found in the dance video {dance_path.name!r} ({len(frames)} frames "
                         "checked). Use a video with one dancer whose whole body is visible, or tick "
                         "'the dance video is a skeleton' if it already is one.")
    dancer = pose.hold(found)
    to_output = pose.fit(video_size, (width, height))
    dancer_out = [q.moved(*to_output) for q in dancer]
    scale = None
    if character_pose is not None:
        character_out = character_pose.moved(*pose.fit((character.width, character.height), (width, height)))
        scale = round(pose.body_scale(character_out, dancer_out), 3)
        dancer_out = pose.retarget(dancer_out, character_out)
    inputs.skeleton = pose.draw(dancer_out, width, height)
    if face_size:
        inputs.faces = pose.crop_faces(frames, dancer, face_size)
    if p.mode == "replace":  # segmented at the model's size, as the official preprocessing does
        scene = letterbox(frames, width, height)
        inputs.mask = person_mask.person_masks(_mask_models(), scene, dancer_out)
        if not inputs.mask.any():
            raise ValueError(f"No person could be outlined in the dance video {dance_path.name!r}, so there is "
                             "nobody to replace. Use a video where the dancer's whole body is clearly visible, "
                             "or use the 'animate' mode.")
        # process_pipepline.py: bg = frame * (1 - aug_mask)
        inputs.background = np.where(inputs.mask[..., None] > 0, 0, scene).astype(np.uint8)
    inputs.facts = {"pose_source": POSE_SOURCE, "face_source": "68 face landmarks (get_face_bboxes)",
                    "frames_with_dancer": seen, "retarget_scale": scale}
    if p.mode == "replace":
        inputs.facts["mask_source"] = MASK_SOURCE
    return inputs


# --------------------------------------------------------------------------------------------- generate


def _call_kwargs(p: Plan, inputs: Inputs) -> dict:
    from PIL import Image

    def pil(frames, mode="RGB"):
        return [Image.fromarray(f, mode) for f in frames]

    common = dict(prompt=p.prompt, negative_prompt=p.negative_prompt, height=inputs.height, width=inputs.width,
                  num_inference_steps=p.steps, guidance_scale=p.guidance_scale, generator=runtime.generator(p.seed),
                  output_type="np")
    if not p.animate:
        return {**common, "video": pil(inputs.skeleton), "reference_images": [inputs.character],
                "num_frames": inputs.frames, **p.preset.call}
    kwargs = {**common, "image": inputs.character, "pose_video": pil(inputs.skeleton), "face_video": pil(inputs.faces),
              "mode": p.mode, **p.preset.call}
    if p.mode == "replace":
        kwargs.update(background_video=pil(inputs.background), mask_video=pil(inputs.mask, "L"))
    return kwargs


RELIGHTING = "relighting"


def relighting_file(p: Plan):
    """Wan-Animate's relighting LoRA: relighting_lora.ckpt of Wan-AI/Wan2.2-Animate-14B (Wan2.2
    wan/configs/wan_animate_14B.py lora_checkpoint), or its tiny stand-in."""
    table = p.preset.table("relighting_lora")
    if p.preset.tiny:
        return tiny.build(table["tiny_builder"]) / table["weight_name"]
    return runtime.fetch_file(table["repo_id"], table["weight_name"])


def _use_relighting(p: Plan, pipe) -> bool:
    """Replacement runs with the relighting LoRA (the official replace run passes --use_relighting_lora, Wan2.2
    README), animation without. Loaded once into the cached pipeline as an adapter, switched per request."""
    if "relighting_lora" not in p.preset.tables:
        return False
    loaded = RELIGHTING in pipe.get_list_adapters().get("transformer", [])
    if p.mode != "replace":
        if loaded:
            pipe.disable_lora()
        return False
    if not loaded:
        import torch

        state = torch.load(relighting_file(p), map_location="cpu", weights_only=True)["state_dict"]
        # A peft state dict of the original Wan model (wan/animate.py loads it with set_peft_model_state_dict);
        # diffusers converts those names once they carry the "diffusion_model." prefix of Wan LoRA files.
        pipe.load_lora_weights({f"diffusion_model.{name}": value for name, value in state.items()},
                               adapter_name=RELIGHTING)
    pipe.set_adapters([RELIGHTING])
    pipe.enable_lora()
    return True


def _gpu_seconds(p: Plan, pipe, inputs: Inputs, kwargs: dict, progress=noop) -> int:
    return cost.zerogpu_duration(estimate(p, inputs.frames, inputs.width, inputs.height))


@runtime.gpu_task(duration=_gpu_seconds)
def _generate(p: Plan, pipe, inputs: Inputs, kwargs: dict, progress: Callable[[Step], None] = noop):
    """Inside the GPU window: denoising and VAE decode only (every segment)."""
    segments, calls = p.segments(inputs.frames), 0

    def on_step(pipe_, step, timestep, tensors):
        nonlocal calls
        calls += 1  # the step index restarts each segment; the count does not
        progress(Step((calls - 1) // p.steps + 1, segments, (calls - 1) % p.steps + 1, p.steps))
        return tensors

    return pipe(**kwargs, callback_on_step_end=on_step).frames


def run(req: Request, progress: Callable[[Step], None] = noop) -> Result:
    p = plan(req)
    if p.animate2:
        from pipelines import dance_animate2

        return dance_animate2.run(p, req, progress)
    started = time.perf_counter()
    # Download + load outside the GPU window. The pipeline is passed along rather than looked up again: the pose
    # models go through the same cache, which by default keeps one entry, so they may have displaced it.
    pipe = runtime.pipeline(p.preset)
    loaded = time.perf_counter()
    face_size = int(pipe.transformer.config.motion_encoder_size) if p.animate else 0
    inputs = prepare(p, req.character_image, req.dance_video, face_size)
    relit = _use_relighting(p, pipe) if p.animate else False
    prepared = time.perf_counter()
    frames = _generate(p, pipe, inputs, _call_kwargs(p, inputs), progress)
    done = time.perf_counter()
    from pipelines import media

    video = media.to_uint8(frames)
    settings = {"task": TASK, "preset": p.preset.key, "repo_id": p.preset.repo_id, "fps": p.fps,
                "tiny": p.preset.tiny, "prompt": p.prompt, "negative_prompt": p.negative_prompt, "seed": p.seed,
                "mode": p.mode, "dance_is_skeleton": p.dance_is_skeleton, "max_seconds": p.max_seconds,
                "steps": p.steps, "guidance_scale": p.guidance_scale, "width": inputs.width, "height": inputs.height,
                "num_frames": len(video), "segments": p.segments(inputs.frames), **p.preset.call, **inputs.facts,
                "relighting_lora": relit}
    return Result(task=TASK, frames=video, fps=p.fps, settings=settings, audio=inputs.audio,
                  sample_rate=inputs.sample_rate, previews={"skeleton": inputs.preview()},
                  inputs={"character_image": str(req.character_image), "dance_video": str(req.dance_video)},
                  timings={"load_s": round(loaded - started, 3), "prepare_s": round(prepared - loaded, 3),
                           "gpu_s": round(done - prepared, 3)})
