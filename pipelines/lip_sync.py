"""Digital-human lip-sync: a portrait (a photo or a short video) and speech in, the portrait speaking it out.

MuseTalk 1.5 as a thin pipeline on stock classes. Per output frame at 25 fps:
  1. Speech: Whisper-encoder hidden states of every layer, 50 feature frames per second; each video frame
     takes a window of its own 2 feature frames plus 2 video frames' worth on either side (10 x layers tokens),
     plus a sinusoidal position encoding, as the UNet's cross-attention context.
  2. Face: YuNet finds the face; the whole-body pose model Wan-Animate ships (pipelines/wholebody.py) gives
     its 68 landmarks, and MuseTalk's own rule makes the crop from them (pipelines/musetalk_face.py), resized
     to 256 px; the VAE encodes the crop with its lower half blacked out and the crop itself: 4 + 4 = 8
     latent channels in.
  3. One UNet call at timestep 0 predicts the face latent; the VAE decodes it.
  4. The face is pasted back through MuseTalk 1.5's "jaw" mask from a face-parsing SegFormer, so nothing
     outside the face box ever changes.
A still portrait is the source of every frame; a video portrait plays forward and back (frames + frames[::-1])
for as long as the speech lasts. No UI code here.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipelines import cost, face, limits, media, presets, runtime, speech, wholebody
from pipelines import musetalk_face as mt
from pipelines.checks import check_seed
from pipelines.store import Result

TASK = "lip_sync"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
VIDEO_SUFFIXES = (".mp4", ".mov", ".webm", ".mkv", ".avi", ".m4v")
UNET_CONFIG = "musetalkV15/musetalk.json"
UNET_WEIGHTS = "musetalkV15/unet.pth"
VAE_FILES = ["config.json", "diffusion_pytorch_model.safetensors"]
HF_MODEL_FILES = ["config.json", "preprocessor_config.json", "model.safetensors"]
OVERHEAD = 2.0          # latent encoding, parsing and Whisper on top of the UNet + decode rate of the card


def noop(step: int, total: int) -> None:
    pass


@dataclass(frozen=True)
class Request:
    portrait: str | None
    audio: str | None = None
    text: str = ""
    consent: bool = False
    seed: int = 0
    preset: str = ""          # "" picks the default (first) preset


@dataclass(frozen=True)
class Plan:
    """A checked request: which files to read and how."""

    preset: presets.Preset
    portrait: Path
    portrait_kind: str        # "image" or "video"
    audio: Path | None        # None: speak `text`
    text: str
    seed: int

    @property
    def fps(self) -> int:
        return self.preset.defaults.fps

    @property
    def face_size(self) -> int:
        return self.preset.defaults.width

    @property
    def max_speech_seconds(self) -> float:
        """The model's longest video, or the playground's speech limit (STUDIO_MAX_AUDIO_SECONDS) if shorter."""
        return min(self.preset.limits.max_frames / self.fps, limits.current().audio_seconds)

    def setting(self, name: str):
        return self.preset.call[name]


def _existing(path: str | None, what: str) -> Path | None:
    if path is None or not str(path).strip():
        return None
    found = Path(path)
    if not found.is_file():
        raise ValueError(f"The {what} file {found.name!r} was not found; upload it again.")
    return found


def portrait_kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    raise ValueError(f"The portrait {path.name!r} is neither a photo nor a video this tab reads: use "
                     f"{', '.join(s[1:].upper() for s in IMAGE_SUFFIXES)} for a photo or "
                     f"{', '.join(s[1:].upper() for s in VIDEO_SUFFIXES)} for a video.")


def plan(req: Request) -> Plan:
    """Check a request before anything is decoded or loaded; raises ValueError naming what to change."""
    portrait = _existing(req.portrait, "portrait")
    if portrait is None:
        raise ValueError("Add a portrait: a photo or a short video in which one face looks at the camera.")
    audio = _existing(req.audio, "audio")
    text = " ".join((req.text or "").split())
    if audio is None and not text:
        raise ValueError("Give the speech: upload or record audio, or type text to be spoken.")
    if audio is None and len(text) > speech.MAX_TEXT_CHARS:
        raise ValueError(f"The text has {len(text)} characters; the limit is {speech.MAX_TEXT_CHARS}. Shorten it.")
    if req.consent is not True:
        raise ValueError("Tick the consent box first: confirm that this is your own face, or that the person "
                         "shown agreed to be animated, and that the result will not be used to deceive.")
    preset = presets.get(TASK, req.preset)
    return Plan(preset, portrait, portrait_kind(portrait), audio, "" if audio else text, check_seed(req.seed))


def estimate(p: Plan, num_frames: int, gpu: str = "ZeroGPU") -> cost.Estimate:
    """One UNet step per frame; the card's real-time rate, doubled for encoding, parsing and Whisper."""
    speed, memory = cost.GPUS[gpu]
    seconds = num_frames * p.preset.cost.ref_seconds_per_step * OVERHEAD / speed
    return cost.Estimate(gpu, round(cost.peak_vram(p.preset, "gpu"), 1), round(seconds, 1), num_frames,
                         cost.offload_profile(p.preset, memory))


# ------------------------------------------------------------------------------------------------ inputs


def _speech(p: Plan) -> speech.Speech:
    if p.audio is not None:
        return speech.from_file(p.audio, p.max_speech_seconds)
    return speech.from_text(p.text, p.seed, p.max_speech_seconds)


def _portrait_frames(p: Plan, seconds: float) -> np.ndarray:
    """(N, H, W, 3) uint8: the photo once, or the video at 25 fps (no longer than the speech needs)."""
    if p.portrait_kind == "image":
        frames = np.asarray(media.read_image(p.portrait, what="portrait"))[None]
    else:
        frames = media.read_video(p.portrait, fps=p.fps, max_seconds=seconds, with_audio=False,
                                  what="portrait video").frames
    return _fit(frames, int(p.setting("max_side")))


def _fit(frames: np.ndarray, max_side: int) -> np.ndarray:
    """Large portraits shrink (even sizes, for H.264); the face region MuseTalk draws is 256 px anyway."""
    import cv2

    height, width = frames.shape[1:3]
    if max(height, width) <= max_side:
        return frames
    scale = max_side / max(height, width)
    size = (max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2))
    return np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames])


def _face_boxes(p: Plan, frames: np.ndarray) -> list[tuple[int, int, int, int] | None]:
    """MuseTalk's crop box per frame, None where no face is seen. YuNet decides whether there is a face (as
    MuseTalk's face detector does) and gives the fallback box; the 68 landmarks make the box."""
    margin = int(p.setting("lower_margin_px"))
    found = [face.detect_faces(frame) for frame in frames]
    with_face = [i for i, faces in enumerate(found) if faces]
    if not with_face:
        where = "photo" if p.portrait_kind == "image" else f"any of the {len(frames)} video frames"
        raise ValueError(f"No face found in the {where}. Use a portrait where one face is clearly visible, "
                         "facing the camera, at least about 40 px tall.")
    height, width = frames.shape[1:3]
    whole = np.array([[0.0, 0.0, width, height, 1.0]] * len(with_face))  # MuseTalk reads the whole image
    points, _ = wholebody.extract(wholebody.load(), frames[with_face], whole)
    boxes: list = [None] * len(frames)
    for i, landmarks in zip(with_face, points[:, 23:91]):
        best = found[i][0]
        fallback = (math.floor(best.x1), math.floor(best.y1), math.ceil(best.x2), math.ceil(best.y2))
        boxes[i] = mt.crop_box(landmarks, frames[i].shape, margin, fallback)
    if not any(boxes):
        raise ValueError("The face in the portrait is too small to animate; use one where the face is at least "
                         "about 40 px tall.")
    return boxes


# ------------------------------------------------------------------------------------------------ models


@dataclass
class _Models:
    unet: object
    vae: object
    whisper: object          # the encoder of WhisperModel
    features: object         # WhisperFeatureExtractor
    parser: object           # SegformerForSemanticSegmentation
    parser_inputs: object    # its image processor
    device: str
    dtype: object


def check_state_dict_keys(model, weights: dict, file_name: str) -> None:
    """The file holds exactly the model's parameter names (MuseTalk musetalk/models/unet.py loads unet.pth into a
    UNet2DConditionModel with a strict load_state_dict); raises ValueError naming the first differences."""
    expected, found = set(model.state_dict()), set(weights)
    missing, unexpected = sorted(expected - found), sorted(found - expected)
    if missing or unexpected:
        parts = [f"{len(missing)} missing (e.g. {', '.join(missing[:3])})"] if missing else []
        parts += [f"{len(unexpected)} unexpected (e.g. {', '.join(unexpected[:3])})"] if unexpected else []
        raise ValueError(f"The weights file {file_name} does not match its model config: keys "
                         + "; ".join(parts) + ".")


def _load(preset: presets.Preset) -> _Models:
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import (SegformerForSemanticSegmentation, SegformerImageProcessor, WhisperFeatureExtractor,
                              WhisperModel)

    device, dtype = runtime.device(), runtime.compute_dtype()
    aux = presets.aux_models(TASK)
    folder = runtime.hub_folder(preset.repo_id, preset.tiny_builder, allow_patterns=[UNET_CONFIG, UNET_WEIGHTS])
    unet = UNet2DConditionModel.from_config(json.loads((folder / UNET_CONFIG).read_text(encoding="utf-8")))
    weights = torch.load(folder / UNET_WEIGHTS, map_location="cpu", weights_only=True)
    check_state_dict_keys(unet, weights, UNET_WEIGHTS)
    unet.load_state_dict({name: value.to(dtype) for name, value in weights.items()}, assign=True)
    vae = AutoencoderKL.from_pretrained(
        runtime.hub_folder(aux["vae"].repo_id, aux["vae"].tiny_builder, allow_patterns=VAE_FILES), dtype=dtype)
    audio_folder = runtime.hub_folder(aux["whisper"].repo_id, aux["whisper"].tiny_builder,
                                      allow_patterns=HF_MODEL_FILES)
    parse_folder = runtime.hub_folder(aux["face_parser"].repo_id, aux["face_parser"].tiny_builder,
                                      allow_patterns=HF_MODEL_FILES)
    return _Models(
        unet=unet.to(device).eval(), vae=vae.to(device).eval(),
        whisper=WhisperModel.from_pretrained(audio_folder, dtype=dtype).get_encoder().to(device).eval(),
        features=WhisperFeatureExtractor.from_pretrained(audio_folder),
        parser=SegformerForSemanticSegmentation.from_pretrained(parse_folder, dtype=dtype).to(device).eval(),
        # The class by name: the repo's preprocessor_config names the retired "SegformerFeatureExtractor".
        parser_inputs=SegformerImageProcessor.from_pretrained(parse_folder), device=device, dtype=dtype)


def _models(preset: presets.Preset) -> _Models:
    """All four networks as one cache entry: they run together, and separate entries would evict each other."""
    c = preset.cost
    return runtime.cached((TASK, preset.key), lambda: _load(preset), c.params_b * c.weight_bytes + c.other_gb)


# --------------------------------------------------------------------------- prepared on the CPU beforehand


@dataclass
class _Work:
    """Everything the GPU window needs, cut and resized before it opens."""

    mel: list                  # Whisper log-mel inputs, one (1, mels, frames) tensor per 30 s of speech
    speech_features: int       # Whisper output frames that hold speech (the rest of the last 30 s is padding)
    schedule: np.ndarray       # source frame of every output frame
    used: list[int]            # source frames that show a face
    crops: np.ndarray          # (N, S, S, 3) the face box of each used frame, for the VAE
    squares: list              # per used frame, the square (x1, y1, x2, y2) the face parser reads
    frames: np.ndarray         # the portrait's frames (the parser's squares are cut from them in the window)
    boxes: list                # the crop box of every frame

    @property
    def todo(self) -> list[int]:
        """Output frames whose source shows a face."""
        used = set(self.used)
        return [t for t, source in enumerate(self.schedule) if int(source) in used]


def _prepare(p: Plan, m: _Models, samples: np.ndarray, frames: np.ndarray, boxes: list,
             schedule: np.ndarray) -> _Work:
    import cv2

    fe = m.features
    mel = [fe(samples[start:start + fe.n_samples], sampling_rate=fe.sampling_rate, return_tensors="pt").input_features
           for start in range(0, len(samples), fe.n_samples)]  # Whisper reads 30 s at a time
    per_second = fe.sampling_rate / fe.hop_length / 2  # the encoder's stride-2 convolution halves the mel rate
    used = sorted({int(s) for s in schedule if boxes[s] is not None})
    crops, squares = [], []
    for i in used:
        x1, y1, x2, y2 = boxes[i]
        crops.append(cv2.resize(frames[i][y1:y2, x1:x2], (p.face_size, p.face_size),
                                interpolation=cv2.INTER_LANCZOS4))
        squares.append(mt.parse_square(boxes[i]))
    return _Work(mel, int(len(samples) / fe.sampling_rate * per_second), schedule, used, np.stack(crops),
                 squares, frames, boxes)


# ------------------------------------------------------------------------------------ inside the GPU window


def _gpu_seconds(p: Plan, work: _Work, progress=noop) -> int:
    return cost.zerogpu_duration(estimate(p, len(work.schedule)))


@runtime.gpu_task(duration=_gpu_seconds)
def _animate(p: Plan, work: _Work, progress: Callable[[int, int], None] = noop):
    """Inside the GPU window, the network calls: Whisper, VAE encode, one UNet step per frame, VAE decode, face
    parsing. Returns the generated faces (T, S, S, 3) and the paste-back alpha over each used frame's face box."""
    import torch

    m = _models(p.preset)  # already loaded by run(): a cache hit
    batch = int(p.setting("batch_size"))
    with torch.inference_mode():
        audio = _audio_windows(m, p, work)
        references = dict(zip(work.used, _reference_latents(m, work.crops, runtime.generator(p.seed), batch)))
        ids = mt.class_ids(m.parser.config.id2label)
        alphas = {i: mt.paste_mask(mt.jaw_mask(_parse(m, mt.cut_square(work.frames[i], square)), ids), work.boxes[i],
                                   square) for i, square in zip(work.used, work.squares)}
        faces = np.zeros((len(work.schedule), p.face_size, p.face_size, 3), np.uint8)
        todo = work.todo
        steps = [todo[i:i + batch] for i in range(0, len(todo), batch)]
        timestep = torch.zeros(1, device=m.device)
        for step, chunk in enumerate(steps):
            latents = torch.cat([references[int(work.schedule[t])] for t in chunk])
            predicted = m.unet(latents, timestep, encoder_hidden_states=audio[chunk]).sample
            faces[chunk] = _decode(m, predicted)
            progress(step + 1, len(steps))
    return faces, alphas


def _audio_windows(m: _Models, p: Plan, work: _Work):
    """(T, window x layers, dim): per video frame, the hidden states of every Whisper layer over its window."""
    import torch

    states = []
    for mel in work.mel:
        hidden = m.whisper(mel.to(m.device, m.dtype), output_hidden_states=True).hidden_states
        states.append(torch.stack(hidden, dim=2)[0])  # (features, layers + 1, dim)
    states = torch.cat(states)[: work.speech_features]
    per_second = m.features.sampling_rate / m.features.hop_length / 2
    per_frame = math.ceil(per_second / p.fps)
    left, right = int(p.setting("audio_padding_left")), int(p.setting("audio_padding_right"))
    window = per_frame * (left + right + 1)
    before = states.new_zeros((per_frame * left, *states.shape[1:]))
    after = states.new_zeros((window, *states.shape[1:]))
    padded = torch.cat([before, states, after])
    starts = [math.floor(t * per_second / p.fps) for t in range(len(work.schedule))]
    windows = torch.stack([padded[s:s + window] for s in starts]).flatten(1, 2)
    return windows + _position_encoding(windows.shape[1], windows.shape[2]).to(windows)


def _position_encoding(length: int, dim: int):
    import torch

    position = torch.arange(length, dtype=torch.float32)[:, None]
    rates = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    encoding = torch.zeros(length, dim)
    encoding[:, 0::2] = torch.sin(position * rates)
    encoding[:, 1::2] = torch.cos(position * rates)
    return encoding


def _reference_latents(m: _Models, crops: np.ndarray, generator, batch: int) -> list:
    """Per crop (1, 8, s, s): the latent with the lower half blacked out, then the full crop's latent."""
    import torch

    pixels = torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 255.0
    masked = pixels.clone()
    masked[:, :, pixels.shape[2] // 2:] = 0.0
    out = []
    for start in range(0, len(crops), batch):
        pair = [_encode(m, x[start:start + batch], generator) for x in (masked, pixels)]
        out.extend(torch.cat(pair, dim=1).split(1))
    return out


def _encode(m: _Models, pixels, generator):
    images = (pixels * 2.0 - 1.0).to(m.device, m.dtype)
    return m.vae.encode(images).latent_dist.sample(generator) * m.vae.config.scaling_factor


def _decode(m: _Models, latents) -> np.ndarray:
    import torch

    images = m.vae.decode(latents / m.vae.config.scaling_factor).sample
    images = ((images.float() / 2 + 0.5).clamp(0, 1) * 255).round().to(torch.uint8)
    return images.permute(0, 2, 3, 1).cpu().numpy()


def _parse(m: _Models, square: np.ndarray) -> np.ndarray:
    """Face-parsing labels (uint8) of the square on the parser's 512 x 512 canvas, where MuseTalk builds its
    mask. The parser's own resize and normalisation run here, frame by frame: done ahead for a 60 s video
    portrait, its float inputs would hold about 5 GB."""
    import torch

    pixels = m.parser_inputs(images=[square], return_tensors="pt")["pixel_values"]
    logits = m.parser(pixel_values=pixels.to(m.device, m.dtype)).logits
    logits = torch.nn.functional.interpolate(logits.float(), size=(mt.PARSE_SIZE, mt.PARSE_SIZE), mode="bilinear")
    return logits.argmax(1)[0].to(torch.uint8).cpu().numpy()


# ----------------------------------------------------------------------------------------------- paste back


def _composite(frames: np.ndarray, boxes: list, alphas: dict, faces: np.ndarray, schedule: np.ndarray):
    import cv2

    out = frames[schedule]  # fancy indexing copies: the sources stay untouched
    for t, source in enumerate(schedule):
        box = boxes[source]
        if box is None:  # no face in this video frame: it plays unchanged
            continue
        x1, y1, x2, y2 = box
        drawn = cv2.resize(faces[t], (x2 - x1, y2 - y1), interpolation=cv2.INTER_LINEAR)
        out[t, y1:y2, x1:x2] = mt.paste(out[t, y1:y2, x1:x2], drawn, alphas[int(source)])
    return out


# ---------------------------------------------------------------------------------------------------- run


def run(req: Request, progress: Callable[[int, int], None] = noop) -> Result:
    p = plan(req)
    started = time.perf_counter()
    voice = _speech(p)
    num_frames = max(1, int(voice.seconds * p.fps))  # whole frames; the audio is cut to match
    frames = _portrait_frames(p, voice.seconds)
    boxes = _face_boxes(p, frames)
    schedule = mt.ping_pong(len(frames), num_frames)
    work = _prepare(p, _models(p.preset), voice.samples, frames, boxes, schedule)  # loads outside the window
    loaded = time.perf_counter()
    faces, alphas = _animate(p, work, progress)
    done = time.perf_counter()
    video = _composite(frames, boxes, alphas, faces, schedule)
    samples = voice.samples[: round(num_frames / p.fps * speech.RATE)]
    aux = presets.aux_models(TASK)
    first = next(int(source) for source in schedule if boxes[source] is not None)
    first_box = boxes[first]
    settings = {
        "task": TASK, "preset": p.preset.key, "repo_id": p.preset.repo_id, "tiny": p.preset.tiny, "seed": p.seed,
        "consent_confirmed": True, "portrait_kind": p.portrait_kind, "speech": voice.source, "text": p.text,
        "speech_seconds": round(len(samples) / speech.RATE, 3), "num_frames": num_frames, "fps": p.fps,
        "width": int(video.shape[2]), "height": int(video.shape[1]), "face_box": list(first_box),
        "frames_with_face": int(sum(boxes[s] is not None for s in schedule)),
        "models": {name: entry.repo_id for name, entry in aux.items()} | {"face_detector": face.REPO_ID,
                                                                           "face_landmarks": wholebody.REPO_ID},
    }
    timings = {"prepare_s": round(loaded - started, 3), "gpu_s": round(done - loaded, 3),
               "paste_s": round(time.perf_counter() - done, 3)}
    return Result(task=TASK, frames=video, fps=p.fps, settings=settings, audio=samples, sample_rate=speech.RATE,
                  timings=timings, inputs={"portrait": str(p.portrait), "audio": str(p.audio or "")},
                  previews={"crop": mt.preview(frames[first], first_box, alphas[first])})
