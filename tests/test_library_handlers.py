"""The "My videos" tab's loading handlers as the page calls them: an MP4 dropped on "Load settings", and Re-run.

Each goes through the served app over HTTP (upload, then the event), like a browser, and reads back the values
the tab's inputs receive."""

from __future__ import annotations

import re

import pytest

from pipelines import store
from tests.browser_calls import Visitor


@pytest.fixture(scope="module")
def visitor(server_url):
    person = Visitor(server_url)
    yield person
    person.close()


def _made(visitor, demo, prompt: str, seed: int) -> tuple[str, dict]:
    done = visitor.generate(demo, "text_to_video", prompt=prompt, num_frames=5, steps=2, seed=seed,
                            randomize_seed=False)
    assert done["success"], done
    video, info = done["output"]["data"][:2]
    return re.search(r"/r/([A-Za-z0-9_-]{22})", info).group(1), video


def _text_to_video_values(demo, data: list) -> dict:
    """The text-to-video tab's input values among a loading handler's outputs (tabs first, then every input)."""
    from tabs import TABS, library

    table = library.endpoints(demo, TABS)
    start = 1
    for endpoint in table.values():
        if endpoint.task == "text_to_video":
            return dict(zip(endpoint.names, data[start:start + len(endpoint.names)]))
        start += len(endpoint.names)
    raise AssertionError("no text-to-video tab")


def test_a_dropped_mp4_refills_its_tab_with_that_videos_settings(visitor, demo):
    first, _ = _made(visitor, demo, "a lighthouse in a storm", 321)
    _made(visitor, demo, "a different field of poppies", 654)  # the latest result must not leak into the refill
    record = store.get(first)
    with record.video.open("rb") as handle:
        uploaded = visitor.http.post("gradio_api/upload", files={"files": ("mine.mp4", handle, "video/mp4")})
    uploaded.raise_for_status()
    path = uploaded.json()[0]
    done = visitor.call(demo, "from_file", [{"path": path, "orig_name": "mine.mp4",
                                             "meta": {"_type": "gradio.FileData"}}], module="tabs.library")
    assert done["success"], done
    data = done["output"]["data"]
    values = _text_to_video_values(demo, data)
    assert values["prompt"] == "a lighthouse in a storm" and values["seed"] == 321
    assert values["num_frames"] == 5 and values["randomize_seed"] is False
    assert data[0]["selected"] == "text_to_video", data[0]


def test_rerun_refills_the_selected_result_not_another(visitor, demo):
    for prompt, seed in (("the first of two", 41), ("the second of two", 42)):
        _made(visitor, demo, prompt, seed)
    for prompt, seed in (("the first of two", 41), ("the second of two", 42)):
        gallery = visitor.call(demo, "listing", [], module="tabs.library")["output"]["data"][0]
        index = next(i for i, item in enumerate(gallery) if item.get("caption") == prompt)
        picked = visitor.call(demo, "select", [None], event_data={"index": index, "value": None},
                              module="tabs.library")
        assert picked["success"], picked
        done = visitor.call(demo, "reopen", [None], module="tabs.library")
        assert done["success"], done
        values = _text_to_video_values(demo, done["output"]["data"])
        assert values["prompt"] == prompt and values["seed"] == seed
        assert done["output"]["data"][-1] == "text_to_video"  # the page presses this tab's Generate
