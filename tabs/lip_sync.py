"""Digital human lip-sync tab (not available yet: it says so, with no fake output)."""

from __future__ import annotations

from tabs import _widgets as w

TITLE = "Digital human lip-sync"
API_NAME = None  # no public endpoint until the pipeline exists


def build() -> None:
    w.coming_soon(TITLE, "Give a portrait and speech (audio, or text to speak); the face speaks it in sync.")
