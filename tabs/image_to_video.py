"""Image to video tab (not available yet: it says so, with no fake output)."""

from __future__ import annotations

from tabs import _widgets as w

TITLE = "Image to video"
API_NAME = None  # no public endpoint until the pipeline exists


def build() -> None:
    w.coming_soon(TITLE, "Give a first frame, optionally a last frame, and a prompt; the model animates from one to the other.")
