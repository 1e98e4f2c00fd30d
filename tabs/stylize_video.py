"""Video stylization tab (not available yet: it says so, with no fake output)."""

from __future__ import annotations

from tabs import _widgets as w

TITLE = "Video stylization"
API_NAME = None  # no public endpoint until the pipeline exists


def build() -> None:
    w.coming_soon(TITLE, "Upload a video and describe a style (or give a style image); the result keeps the video's structure and motion.")
