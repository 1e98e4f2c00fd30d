"""The limits the page shows are enforced: video and speech length through each tab's handler, upload size by
the served app."""

from __future__ import annotations

import re

import gradio as gr
import httpx
import numpy as np
import pytest
from PIL import Image

from pipelines import limits, media, runtime
from tabs import dance as dance_tab
from tabs import lip_sync as lip_sync_tab
from tabs import stylize_video as sv_tab
from tests import factory
from tests.spies import outcome


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("limits")
    Image.fromarray(factory.face_pixels()).save(root / "face.png")
    return {
        "source": factory.video(root / "source.mp4", seconds=3.0, fps=30, audio=True),
        "character": factory.image(root / "character.png", 64, 96, seed=4),
        "dance": factory.video(root / "dance.mp4", seconds=1.5, fps=30, width=96, height=64),
        "face": root / "face.png",
        "face_video": media.write_mp4(root / "face.mp4", np.stack([factory.face_pixels(marker=i % 4)
                                                                    for i in range(50)]), 25),
        "speech": factory.wav(root / "speech.wav", 2.0),
    }


def refused(call, seconds: str, cap: str) -> str:
    """The handler refuses with a message naming the input's length and the limit; no model ran."""
    runtime.STATS.reset()
    with pytest.raises(gr.Error) as caught:
        outcome(call())
    message = caught.value.message
    assert re.search(rf"\b{re.escape(seconds)}\b", message) and re.search(rf"\b{re.escape(cap)} s\b", message), message
    assert "/" not in message  # no server path
    assert runtime.STATS.calls == 0  # refused before any GPU work
    return message


def test_a_stylization_source_over_the_video_limit_is_refused(monkeypatch, files, pipeline_spy):
    monkeypatch.setenv("STUDIO_MAX_VIDEO_SECONDS", "1")
    assert "videos up to 1 s" in limits.current().describe()  # what the page shows
    refused(lambda: sv_tab.stylize_video(video=str(files["source"]), prompt="claymation", control="canny"), "3.0", "1")
    # Trimming does not get round it: the file itself is over the limit.
    refused(lambda: sv_tab.stylize_video(video=str(files["source"]), prompt="claymation", control="canny",
                                         max_seconds=1.0), "3.0", "1")
    assert pipeline_spy.calls == []


def test_a_dance_video_over_the_video_limit_is_refused(monkeypatch, files, pipeline_spy):
    monkeypatch.setenv("STUDIO_MAX_VIDEO_SECONDS", "1")
    refused(lambda: dance_tab.dance(character_image=str(files["character"]), dance_video=str(files["dance"]),
                                    max_seconds=1.0), "1.5", "1")
    assert pipeline_spy.calls == []


def test_lip_sync_speech_and_portrait_video_over_their_limits_are_refused(monkeypatch, files, unet_spy):
    monkeypatch.setenv("STUDIO_MAX_AUDIO_SECONDS", "1")
    assert "speech up to 1 s" in limits.current().describe()
    assert "1 s" in lip_sync_tab._limits(lip_sync_tab.DEFAULT.key)  # the tab's own line agrees
    refused(lambda: lip_sync_tab.lip_sync(portrait=str(files["face"]), audio=str(files["speech"]), consent=True),
            "2.0", "1")
    monkeypatch.setenv("STUDIO_MAX_AUDIO_SECONDS", "60")
    monkeypatch.setenv("STUDIO_MAX_VIDEO_SECONDS", "1")
    refused(lambda: lip_sync_tab.lip_sync(portrait=str(files["face_video"]), audio=str(files["speech"]),
                                          consent=True), "2.0", "1")
    assert unet_spy.contexts == []


def test_uploads_over_the_size_limit_are_refused_by_the_served_app(server_url):
    cap_mb = limits.current().upload_mb
    url = f"{server_url}gradio_api/upload"
    small = httpx.post(url, files={"files": ("small.bin", b"\0" * 1024)}, timeout=60)
    assert small.status_code == 200, small.text
    over = int(cap_mb * 1024 * 1024) + 1024 * 1024
    big = httpx.post(url, files={"files": ("big.bin", b"\0" * over)}, timeout=120)
    assert big.status_code in (400, 413), big.status_code
    assert "size" in big.text.lower() or "large" in big.text.lower()
