"""Where results go: each request gets its own directory under the outputs root, named by an unguessable id."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from pathlib import Path

import numpy as np

from pipelines import media


@dataclass
class Result:
    """What a task pipeline returns: frames plus everything needed to write and reproduce the video."""

    task: str
    frames: np.ndarray                       # (T, H, W, 3) uint8
    fps: float
    settings: dict
    audio: np.ndarray | None = None          # mono float32
    sample_rate: int = media.SPEECH_RATE
    timings: dict = field(default_factory=dict)
    previews: dict[str, np.ndarray] = field(default_factory=dict)  # e.g. the control video of a stylization


@dataclass
class Saved:
    id: str
    video: Path
    previews: dict[str, Path]
    metadata: dict


def outputs_root() -> Path:
    return Path(os.environ.get("STUDIO_OUTPUTS") or Path.cwd() / "outputs").resolve()


def new_result_dir() -> tuple[str, Path]:
    result_id = secrets.token_urlsafe(16)  # 128 bits: share links can't be guessed or enumerated
    folder = outputs_root() / result_id
    folder.mkdir(parents=True, exist_ok=False)
    return result_id, folder


@cache
def library_versions() -> dict[str, str]:
    versions = {}
    for name in ("torch", "diffusers", "transformers", "gradio"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


def save(result: Result) -> Saved:
    """Write the MP4 (settings embedded) and any preview videos into a fresh result directory."""
    result_id, folder = new_result_dir()
    info = {"id": result_id, "task": result.task, "ai_generated": True, "generator": "video-studio",
            "settings": result.settings, "timings": result.timings, "versions": library_versions()}
    video = media.write_mp4(folder / f"{result.task}.mp4", result.frames, result.fps, audio=result.audio,
                            sample_rate=result.sample_rate, metadata=info)
    previews = {name: media.write_mp4(folder / f"{name}.mp4", frames, result.fps)
                for name, frames in result.previews.items()}
    return Saved(result_id, video, previews, info)
