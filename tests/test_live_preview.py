"""Live preview: low-resolution pictures of the current estimate stream out while a video denoises."""

from __future__ import annotations

import types

import gradio as gr
import numpy as np
import pytest

from pipelines import image_to_video as i2v
from pipelines import cost, preview, presets, runtime, store
from pipelines import text_to_video as t2v
from tabs import text_to_video as t2v_tab
from tests import factory


def kinds(events):
    return [kind for kind, _ in events]


def test_published_projections_have_their_latent_spaces_channel_counts():
    table = preview.projections()
    assert {name: len(entry["factors"]) for name, entry in table.items()} == {"wan2.1": 16, "wan2.2": 48, "ltx": 128}
    assert all(len(row) == 3 for entry in table.values() for row in entry["factors"])


@pytest.mark.parametrize("preset, family", [("wan2.2-ti2v-5b", "wan2.2"), ("wan2.1-t2v-1.3b", "wan2.1")])
def test_wan_latents_get_their_published_projection(preset, family):
    pipe = runtime.pipeline(presets.get("text_to_video", preset))
    assert preview.family(pipe) == family


@pytest.mark.parametrize("preset", list(presets.presets("text_to_video")))
def test_text_to_video_streams_a_preview_per_step_before_the_video(preset):
    events = list(t2v.run_live(t2v.Request(prompt="a fox", preset=preset, num_frames=9, steps=3)))
    refine = cost.refine_steps(presets.get("text_to_video", preset))  # a two-stage preset's stage-2 steps
    assert kinds(events) == ["preview"] * (3 + refine) + ["result"]
    pictures = [value for kind, value in events if kind == "preview"]
    assert all(p.dtype == np.uint8 and p.ndim == 3 and p.shape[2] == 3 for p in pictures)
    assert not np.array_equal(pictures[0], pictures[-1])  # the estimate moves as it denoises


def test_image_to_video_streams_previews(tmp_path):
    first = factory.image(tmp_path / "first.png", 96, 64, seed=1)
    events = list(i2v.run_live(i2v.Request(image=str(first), prompt="it moves", num_frames=5, steps=2)))
    assert kinds(events) == ["preview", "preview", "result"]


def test_preview_off_streams_nothing_and_gives_the_same_video():
    request = t2v.Request(prompt="a fox", seed=5, num_frames=5, steps=2)
    plain = list(t2v.run_live(request, preview=False))
    assert kinds(plain) == ["result"]
    live = t2v.generation.last_result(t2v.run_live(request))
    assert np.array_equal(plain[0][1].frames, live.frames)  # the preview only watches


def _handler_request(session: str):
    return types.SimpleNamespace(session_hash=session)


def test_the_handler_yields_previews_into_the_info_panel_before_the_video():
    steps = list(t2v_tab.text_to_video("a fox", num_frames=5, steps=3, seed=1, progress=lambda *a, **k: None,
                                       request=_handler_request("preview-handler")))
    previews = [s for s in steps if isinstance(s[1], str) and s[1].startswith("![](data:image/png;base64,")]
    assert len(previews) == 3 and steps.index(previews[-1]) < len(steps) - 1
    video, info, seed = steps[-1]
    assert video.endswith(".mp4") and "/r/" in info and seed == 1


def test_stop_during_the_preview_keeps_nothing():
    session = "preview-stop"
    steps = t2v_tab.text_to_video("a fox", num_frames=5, steps=3, seed=1, progress=lambda *a, **k: None,
                                  request=_handler_request(session))
    first = next(steps)
    assert first[1].startswith("![](data:image/png")
    runtime.request_cancel(session)
    seen = []
    with pytest.raises(gr.Error, match="Stopped"):
        for update in steps:  # steps finished before Stop was seen may still show theirs
            seen.append(update)
    assert seen and seen[-1][1] == ""  # the preview of a stopped run goes away
    assert not any(str(update[0]).endswith(".mp4") for update in seen)
    assert store.history(session) == []


def test_previews_reach_gradio_client_before_the_video(client):
    job = client.submit(prompt="a fox", num_frames=5, steps=3, seed=2, api_name="/text_to_video")
    video, info, seed = job.result()
    outputs = job.outputs()
    previews = [o for o in outputs if "data:image/png" in str(o[1])]
    assert len(previews) >= 2 and outputs[-1][0] == video and "/r/" in info
