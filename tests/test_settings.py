"""Settings a Space uses: STUDIO_TABS hides tabs and their endpoints; clamped limits; the MCP switch."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from pipelines import limits
from tests.conftest import ROOT

# Beside each tab's Generate: the prompt helper, extend and variations of the text-to-video tab.
TEXT_TO_VIDEO_EXTRAS = ["extend_video", "improve_prompt", "text_to_video_variations"]
PROBE = ("import json, app\n"
         "apis = sorted(f.api_name for f in app.demo.fns.values() if isinstance(f.api_name, str)"
         " and f.api_visibility == 'public')\n"
         "tabs = [b.id for b in app.demo.blocks.values() if type(b).__name__ == 'Tab']\n"
         "print(json.dumps({'apis': apis, 'tabs': tabs}))\n")


def _probe(**env):
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={**os.environ, **env})
    return out


def test_studio_tabs_keeps_only_the_named_tabs_and_their_endpoints():
    out = _probe(STUDIO_TABS="text_to_video, image_to_video")
    assert out.returncode == 0, out.stderr[-2000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["apis"] == sorted(["image_to_video", "text_to_video", *TEXT_TO_VIDEO_EXTRAS])
    assert seen["tabs"] == ["text_to_video", "image_to_video", "library"]


def test_all_tabs_and_endpoints_by_default():
    seen = json.loads(_probe(STUDIO_TABS="").stdout.strip().splitlines()[-1])
    assert seen["apis"] == sorted(["text_to_video", "image_to_video", "stylize_video", "dance", "lip_sync",
                                   *TEXT_TO_VIDEO_EXTRAS])


def test_an_unknown_tab_name_stops_start_up_with_the_valid_names():
    out = _probe(STUDIO_TABS="text_to_video,karaoke")
    assert out.returncode != 0 and "karaoke" in out.stderr and "lip_sync" in out.stderr


@pytest.mark.parametrize("raw, expected", [("30", 30.0), ("-5", 1.0), ("99999", 300.0), ("lots", 20.0)])
def test_limits_from_the_environment_are_clamped(monkeypatch, raw, expected):
    monkeypatch.setenv("STUDIO_MAX_VIDEO_SECONDS", raw)
    assert limits.current().video_seconds == expected


def test_limits_are_shown_on_the_page():
    import app

    shown = [b for b in app.demo.blocks.values() if getattr(b, "elem_id", None) == "limits"]
    assert shown  # filled for each visitor, in their language, when the page loads
    assert f"videos up to {limits.current().video_seconds:g} s" in app.describe_limits()


def test_studio_mcp_serves_every_endpoint_as_a_documented_tool():
    code = ("import json\nfrom fastapi.testclient import TestClient\nimport app, server\n"
            "with TestClient(server.create_app(app.demo, **app.launch_kwargs())) as c:\n"
            "    print(json.dumps(c.get('/gradio_api/mcp/schema').json()))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "STUDIO_MCP": "1"})
    assert out.returncode == 0, out.stderr[-2000:]
    tools = {tool["name"]: tool for tool in json.loads(out.stdout.strip().splitlines()[-1])}
    assert set(tools) == {"text_to_video", "image_to_video", "stylize_video", "dance", "lip_sync",
                          *TEXT_TO_VIDEO_EXTRAS}
    assert "prompt" in tools["text_to_video"]["inputSchema"]["properties"]
    assert all(len(tool["description"]) > 20 for tool in tools.values())


def test_every_tab_has_examples_and_their_files_are_shipped_media():
    import app
    from pipelines import media
    from tabs._widgets import ASSETS

    datasets = [b for b in app.demo.blocks.values() if type(b).__name__ == "Dataset"]
    assert len(datasets) >= 5  # one per generating tab
    files = {v for d in datasets for sample in d.raw_samples for v in sample
             if isinstance(v, str) and v.endswith((".png", ".mp4"))}
    assert len(files) >= 6
    for path in files:
        assert str(ASSETS) in path, path
        if path.endswith(".png"):
            assert media.read_image(path).size[0] >= 64
        else:
            assert len(media.read_video(path, with_audio=False).frames) >= 16
