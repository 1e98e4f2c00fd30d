"""Extend: continue a text- or image-to-video result from its last frame with image to video, and join the two
into one longer video, a new result whose settings name its parent.

The continuation starts on the parent's last frame, so its own first frame repeats that frame: it is dropped,
and the continuation's colours are matched to the parent's last frame (image-to-video models drift slightly in
exposure), so the join shows no jump. No UI code here.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipelines import image_to_video, media, presets
from pipelines.store import Result

EXTENDABLE = ("text_to_video", "image_to_video")


def noop(step: int, total: int) -> None:
    pass


@dataclass(frozen=True)
class Request:
    video: str                       # an MP4 this studio made (its settings are embedded)
    prompt: str = ""                 # "" continues with the parent's prompt
    seed: int = 0
    preset: str = ""                 # image-to-video preset; "" picks the parent's model where it can
    num_frames: int | None = None    # frames of the continuation (its first repeats the parent's last)
    hub_loras: str = ""


def parent_of(path: str) -> tuple[str, dict]:
    """(parent result id, its settings) from the MP4's embedded metadata; ValueError for other videos."""
    meta = media.read_metadata(path) if path and Path(path).is_file() else {}
    task = meta.get("task")
    if task not in EXTENDABLE:
        made = f"a {task.replace('_', ' ')} result" if task else "not a video made here"
        raise ValueError(f"Only text-to-video and image-to-video results can be extended; this is {made}. "
                         "Make a video on one of those tabs first.")
    return str(meta.get("id", "")), dict(meta.get("settings", {}))


def pick_preset(key: str, parent: dict) -> presets.Preset:
    """The image-to-video model to continue with: the one asked for, else the parent's own model when it starts
    from a first frame alone, else the default."""
    if key:
        return presets.get(image_to_video.TASK, key)
    table = presets.presets(image_to_video.TASK)
    same = table.get(parent.get("preset", ""))
    if same is not None and image_to_video.frame_rules(same).last_frame != "required":
        return same
    return presets.get(image_to_video.TASK, None)


def match_colours(frames: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Shift and scale each channel so frames[0] has the reference frame's mean and spread."""
    first = frames[0].reshape(-1, 3).astype(np.float32)
    target = reference.reshape(-1, 3).astype(np.float32)
    scale = (target.std(0) + 1.0) / (first.std(0) + 1.0)
    shifted = (frames.astype(np.float32) - first.mean(0)) * scale + target.mean(0)
    return np.clip(np.rint(shifted), 0, 255).astype(np.uint8)


def _fit(frames: np.ndarray, width: int, height: int) -> np.ndarray:
    if frames.shape[1:3] == (height, width):
        return frames
    from PIL import Image

    return np.stack([np.asarray(Image.fromarray(f).resize((width, height), Image.Resampling.LANCZOS)) for f in frames])


def run(req: Request, progress: Callable[[int, int], None] = noop) -> Result:
    parent_id, parent = parent_of(req.video)
    source = media.read_video(req.video, with_audio=False, what="video to extend")
    frames = source.frames
    fps = float(parent.get("fps") or source.fps)
    preset = pick_preset(req.preset, parent)
    from PIL import Image

    last = Path(tempfile.mkdtemp(prefix="studio-extend-")) / "last_frame.png"  # kept with the result at save
    Image.fromarray(frames[-1]).save(last)
    continuation = image_to_video.run(image_to_video.Request(
        image=str(last), prompt=req.prompt or parent.get("prompt", ""), seed=req.seed, preset=preset.key,
        num_frames=req.num_frames, hub_loras=req.hub_loras), progress)
    new = continuation.frames
    if continuation.fps != fps:
        new = media._resample(new, continuation.fps, fps)
    new = match_colours(_fit(new, frames.shape[2], frames.shape[1]), frames[-1])[1:]
    joined = np.concatenate([frames, new])
    settings = {**continuation.settings, "extended_from": parent_id, "parent_task": parent.get("task"),
                "parent_frames": len(frames), "added_frames": len(new), "total_frames": len(joined),
                "width": int(frames.shape[2]), "height": int(frames.shape[1]), "fps": fps}
    return Result(task=image_to_video.TASK, frames=joined, fps=fps, settings=settings,
                  timings=continuation.timings, inputs={"image": str(last)})
