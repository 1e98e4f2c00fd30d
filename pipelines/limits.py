"""Limits a public playground needs, from environment settings with clamped defaults.

The UI shows them and the pipelines re-check them, so an API caller meets the same limits as a visitor.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


def _setting(name: str, default: float, low: float, high: float) -> float:
    """An env setting clamped to [low, high]; unreadable values fall back to the default."""
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        return default
    return min(high, max(low, value))


@dataclass(frozen=True)
class Limits:
    upload_mb: float
    video_seconds: float
    audio_seconds: float
    max_side: int           # longest side of an input image or video, in pixels
    prompt_chars: int

    def describe(self) -> str:
        return (f"Uploads up to {self.upload_mb:g} MB · videos up to {self.video_seconds:g} s · "
                f"speech up to {self.audio_seconds:g} s · images and videos up to {self.max_side} px on the long side")


def current() -> Limits:
    return Limits(
        upload_mb=_setting("STUDIO_MAX_UPLOAD_MB", 100, 1, 2000),
        video_seconds=_setting("STUDIO_MAX_VIDEO_SECONDS", 20, 1, 300),
        audio_seconds=_setting("STUDIO_MAX_AUDIO_SECONDS", 60, 1, 600),
        max_side=int(_setting("STUDIO_MAX_SIDE", 4096, 64, 16384)),
        prompt_chars=int(_setting("STUDIO_MAX_PROMPT_CHARS", 2000, 10, 20000)),
    )


def check_size(width: int, height: int, what: str) -> None:
    side = current().max_side
    if max(width, height) > side:
        raise ValueError(f"The {what} is {width}x{height} px; the limit is {side} px on the long side. "
                         "Use a smaller file.")


def check_duration(seconds: float, what: str, cap: float) -> None:
    if seconds > cap + 1e-6:
        raise ValueError(f"The {what} is {seconds:.1f} s long; the limit is {cap:g} s. Trim it and try again.")


def check_prompt_length(prompt: str, negative_prompt: str = "") -> None:
    cap = current().prompt_chars
    for name, text in (("prompt", prompt), ("negative prompt", negative_prompt or "")):
        if len(text) > cap:
            raise ValueError(f"The {name} has {len(text)} characters; the limit is {cap}.")
