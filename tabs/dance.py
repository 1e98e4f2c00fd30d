"""Pose-driven dance tab (not available yet: it says so, with no fake output)."""

from __future__ import annotations

from tabs import _widgets as w

TITLE = "Pose-driven dance"
API_NAME = None  # no public endpoint until the pipeline exists


def build() -> None:
    w.coming_soon(TITLE, "Give a character image and a dance video; the character performs the dance.")
