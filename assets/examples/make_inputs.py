"""Make the example inputs of the image-to-video, stylization, dance and lip-sync tabs (drawn here, nothing filmed).

    python assets/examples/make_inputs.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from pipelines import media  # noqa: E402

WIDTH, HEIGHT = 640, 384


def landscape(sun_height: float) -> Image.Image:
    """Sky, sea and a sun at `sun_height` (0 on the horizon, 1 high up): a sunrise in two pictures."""
    picture = Image.new("RGB", (WIDTH, HEIGHT))
    draw = ImageDraw.Draw(picture)
    horizon = int(HEIGHT * 0.62)
    warm = 1.0 - sun_height
    for y in range(horizon):
        t = y / horizon
        draw.line([(0, y), (WIDTH, y)], fill=(int(60 + 180 * warm * t), int(90 + 80 * t), int(170 - 60 * warm * t)))
    for y in range(horizon, HEIGHT):
        draw.line([(0, y), (WIDTH, y)], fill=(20, 60 + (y - horizon) // 3, 110))
    cx, cy, r = WIDTH // 2, int(horizon - 10 - sun_height * horizon * 0.7), 38
    draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(255, int(150 + 90 * sun_height), int(60 + 120 * sun_height)))
    return picture


def spinning_shapes(seconds: float = 3.0, fps: int = 24) -> np.ndarray:
    """A bright square and circle moving over a gradient: clear edges and depth for the control video."""
    frames = []
    for i in range(int(seconds * fps)):
        picture = Image.new("RGB", (WIDTH, HEIGHT), (40, 40, 60))
        draw = ImageDraw.Draw(picture)
        t = i / (seconds * fps)
        x = int(80 + t * (WIDTH - 240))
        draw.rectangle([x, 120, x + 120, 240], fill=(230, 200, 60))
        cx = int(WIDTH - 120 - t * (WIDTH - 240))
        draw.ellipse([cx - 50, 220, cx + 50, 320], fill=(80, 180, 230))
        frames.append(np.asarray(picture))
    return np.stack(frames)


def portrait() -> Image.Image:
    """A drawn face: a friendly cartoon head for the smoke-mode lip-sync (real models need a real photo)."""
    picture = Image.new("RGB", (384, 384), (90, 150, 200))
    draw = ImageDraw.Draw(picture)
    draw.ellipse([112, 72, 272, 312], fill=(225, 170, 140))
    for x in (160, 224):
        draw.ellipse([x - 8, 160, x + 8, 176], fill=(40, 30, 30))
    draw.ellipse([168, 240, 216, 256], fill=(150, 60, 60))
    return picture


def character() -> Image.Image:
    """A drawn figure standing with its arms out, for the dance examples (whose videos are ready skeletons)."""
    picture = Image.new("RGB", (384, 640), (235, 225, 200))
    draw = ImageDraw.Draw(picture)
    draw.ellipse([152, 60, 232, 150], fill=(225, 170, 140))                  # head
    draw.rectangle([142, 160, 242, 360], fill=(60, 110, 190))                 # body
    draw.line([(142, 180), (60, 300)], fill=(60, 110, 190), width=26)        # arms
    draw.line([(242, 180), (324, 300)], fill=(60, 110, 190), width=26)
    draw.line([(170, 360), (150, 580)], fill=(50, 50, 70), width=30)         # legs
    draw.line([(214, 360), (234, 580)], fill=(50, 50, 70), width=30)
    return picture


def main() -> None:
    (HERE / "image_to_video").mkdir(exist_ok=True)
    landscape(0.0).save(HERE / "image_to_video" / "sunrise_first.png")
    landscape(1.0).save(HERE / "image_to_video" / "sunrise_last.png")
    (HERE / "stylize_video").mkdir(exist_ok=True)
    media.write_mp4(HERE / "stylize_video" / "shapes.mp4", spinning_shapes(), 24, crf=28)
    (HERE / "lip_sync").mkdir(exist_ok=True)
    portrait().save(HERE / "lip_sync" / "drawn_face.png")
    (HERE / "dance").mkdir(exist_ok=True)
    character().save(HERE / "dance" / "character.png")


if __name__ == "__main__":
    main()
