"""Results that last: the index, share pages, settings embedded in each MP4, refill, and isolation."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading

import httpx
import pytest
from gradio_client import Client

from pipelines import media, owners, store
from tests.conftest import ROOT


def _generate(client, prompt, seed):
    video, info, used = client.predict(prompt=prompt, seed=seed, num_frames=5, api_name="/text_to_video")
    result_id = re.search(r"/r/([A-Za-z0-9_-]{22})", info).group(1)
    return video, result_id


@pytest.fixture(scope="module")
def made(client):
    return _generate(client, "a lighthouse in a storm <b>bold</b>", 321)


def test_share_page_shows_the_video_prompt_and_remix_link(server_url, made, tmp_path):
    _, result_id = made
    page = httpx.get(f"{server_url}r/{result_id}")
    assert page.status_code == 200
    assert "a lighthouse in a storm &lt;b&gt;bold&lt;/b&gt;" in page.text  # escaped, not injected
    assert f'href="/?remix={result_id}"' in page.text
    video = httpx.get(f"{server_url}r/{result_id}/video.mp4")
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    served = tmp_path / "served.mp4"
    served.write_bytes(video.content)  # the served bytes are this result's MP4, its settings embedded
    meta = media.read_metadata(served)
    assert meta["id"] == result_id and meta["settings"]["prompt"] == "a lighthouse in a storm <b>bold</b>"


@pytest.mark.parametrize("bad", ["AAAAAAAAAAAAAAAAAAAAAA", "nope", "..%2F..%2Fetc%2Fpasswd", "index.sqlite3"])
def test_unknown_or_malformed_ids_are_404(server_url, bad):
    assert httpx.get(f"{server_url}r/{bad}").status_code == 404
    assert httpx.get(f"{server_url}r/{bad}/video.mp4").status_code == 404


def test_a_restarted_server_still_serves_the_result(made):
    """A fresh process (as after a restart) reads the same index and serves the same page."""
    _, result_id = made
    code = ("from fastapi.testclient import TestClient\nimport app, server\n"
            f"c = TestClient(server.create_app(app.demo))\nr = c.get('/r/{result_id}')\n"
            "print(r.status_code, 'lighthouse' in r.text)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env=dict(os.environ))
    assert out.stdout.strip().splitlines()[-1] == "200 True", out.stderr[-2000:]


def test_settings_json_is_in_the_mp4_metadata_as_ffmpeg_reports_it(made):
    video, result_id = made
    dump = subprocess.run([media.ffmpeg_exe(), "-v", "error", "-i", video, "-f", "ffmetadata", "-"],
                          capture_output=True, text=True, check=True).stdout
    comment = next(line for line in dump.splitlines() if line.startswith("comment="))
    assert '"seed": 321' in comment.replace("\\", "")
    meta = media.read_metadata(video)
    assert meta["id"] == result_id and meta["settings"]["seed"] == 321 and meta["ai_generated"] is True
    assert {"torch", "diffusers", "transformers"} <= set(meta["versions"])
    assert {"load_s", "gpu_s"} <= set(meta["timings"])


def test_loading_the_mp4_restores_the_tab_settings(made):
    import app
    from tabs import TABS, library

    video, result_id = made
    table = library.endpoints(app.demo, TABS)
    record = library.record_from_video(video, set(table))
    assert record is not None and record.id == result_id
    selected, *updates = library.fill(record, table)
    start = 0
    for endpoint in table.values():  # each tab's inputs, in order; only the result's own tab is filled
        if endpoint.task == "text_to_video":
            values = dict(zip(endpoint.names, updates[start:start + len(endpoint.names)]))
        start += len(endpoint.names)
    assert selected.selected == "text_to_video"
    assert values["prompt"] == "a lighthouse in a storm <b>bold</b>"
    assert values["seed"] == 321 and values["num_frames"] == 5 and values["randomize_seed"] is False
    assert values["aspect"] == "16:9"


def test_a_video_without_our_settings_is_refused(tmp_path):
    from tabs import library

    import numpy as np

    plain = media.write_mp4(tmp_path / "plain.mp4", np.zeros((3, 16, 16, 3), np.uint8), 8)
    assert library.record_from_video(str(plain), {"text_to_video"}) is None


def owner_of(client) -> str:
    """The owner id the server gave an API client (in the cookie it keeps from the first response)."""
    return owners.browser_owner(owners.verify(client.cookies[owners.COOKIE]))


def test_two_concurrent_users_never_get_each_others_files(server_url):
    clients = [Client(server_url, verbose=False) for _ in range(2)]
    results = {}

    def user(index):
        results[index] = [_generate(clients[index], f"user {index} prompt", 1000 + index) for _ in range(2)]

    threads = [threading.Thread(target=user, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    for index, client in enumerate(clients):
        for video, result_id in results[index]:
            meta = media.read_metadata(video)
            assert meta["id"] == result_id and meta["settings"]["seed"] == 1000 + index
        mine = {r.id for r in store.history(owner_of(client))}
        theirs = {rid for _, rid in results[1 - index]}
        assert {rid for _, rid in results[index]} <= mine and not (mine & theirs)
    other = owner_of(clients[1])
    assert not store.delete(results[0][0][1], other)  # another browser can't delete it
    assert store.delete(results[0][0][1], owner_of(clients[0]))
    assert store.get(results[0][0][1]) is None


def test_the_visible_watermark_marks_only_a_corner_when_switched_on(monkeypatch):
    import numpy as np

    from tests.video_checks import probe

    frames = np.full((3, 64, 96, 3), 128, np.uint8)
    result = store.Result(task="text_to_video", frames=frames, fps=8, settings={"seed": 1})
    plain = probe(store.save(result).video).frames
    monkeypatch.setenv("STUDIO_WATERMARK", "1")
    saved = store.save(result)
    marked = probe(saved.video).frames
    assert saved.metadata["watermarked"] is True
    changed = np.abs(marked.astype(int) - plain.astype(int)).max(axis=(0, 3)) > 12
    rows, cols = np.nonzero(changed)
    assert rows.size and rows.min() >= 64 // 2 and cols.min() >= 96 // 2  # bottom-right corner only
