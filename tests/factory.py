"""Small synthetic inputs the tests make on the fly: images, videos, audio, and broken files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from pipelines import media


def image(path: Path, width: int = 96, height: int = 64, *, seed: int = 0, mode: str = "RGB") -> Path:
    rng = np.random.default_rng(seed)
    channels = 4 if mode == "RGBA" else 3
    pixels = rng.integers(0, 255, (height, width, channels), dtype=np.uint8)
    Image.fromarray(pixels, mode).save(path)
    return Path(path)


def moving_square(frames: int, width: int, height: int) -> np.ndarray:
    """A white square sliding across a dark background: structure and motion that edge detectors see."""
    video = np.full((frames, height, width, 3), 30, np.uint8)
    side = max(4, min(width, height) // 4)
    for t in range(frames):
        x = int((width - side) * t / max(1, frames - 1))
        y = (height - side) // 2
        video[t, y:y + side, x:x + side] = 230
    return video


def tone(seconds: float, rate: int = media.SPEECH_RATE, hz: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * hz * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)


def video(path: Path, seconds: float = 1.0, fps: float = 30, width: int = 96, height: int = 64, *,
          audio: bool = False) -> Path:
    frames = moving_square(max(1, int(round(seconds * fps))), width, height)
    return media.write_mp4(path, frames, fps, audio=tone(seconds) if audio else None)


def wav(path: Path, seconds: float = 2.0, *, silent: bool = False) -> Path:
    samples = np.zeros(int(seconds * media.SPEECH_RATE), np.float32) if silent else tone(seconds)
    return media.write_wav(path, samples, media.SPEECH_RATE)


def not_media(path: Path) -> Path:
    Path(path).write_text("this is a text file, not media\n")
    return Path(path)


def truncated(source: Path, path: Path, keep: float = 0.3) -> Path:
    """A corrupt copy: the first part of a real file's bytes."""
    data = Path(source).read_bytes()
    Path(path).write_bytes(data[: max(16, int(len(data) * keep))])
    return Path(path)


def face_pixels(height: int = 96, width: int = 96, marker: int | None = None) -> np.ndarray:
    """A skin-coloured oval with eyes and a mouth on a blue background (the tiny face detector finds
    skin-toned blobs, so this is a face to it); `marker` paints a grey corner tag to tell frames apart."""
    import cv2

    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[:] = (90, 150, 200)
    cv2.ellipse(pixels, (width // 2, height // 2), (width // 4, height // 3), 0, 0, 360, (225, 170, 140), -1)
    for x in (width // 2 - width // 10, width // 2 + width // 10):
        cv2.circle(pixels, (x, height // 2 - height // 10), max(1, width // 40), (40, 30, 30), -1)
    cv2.ellipse(pixels, (width // 2, height // 2 + height // 6), (width // 12, height // 30), 0, 0, 360,
                (150, 60, 60), -1)
    if marker is not None:
        pixels[:8, :8] = 40 * marker
    return pixels


def face(path: Path, width: int = 96, height: int = 128) -> Path:
    Image.fromarray(face_pixels(height, width)).save(path)
    return Path(path)
