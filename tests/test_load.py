"""Many people at once: every concurrent request gets its own video, and a full queue says so cleanly."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError
from gradio_client.utils import QueueError

from pipelines import media
from tests.conftest import ROOT, free_port
from tests.video_checks import probe

CLIENTS = 16
SEEDS = [100 + i // 2 for i in range(CLIENTS)]  # two clients per seed: the pair must agree, other seeds differ
SMALL = dict(prompt="a lighthouse at dusk", num_frames=5, api_name="/text_to_video")


def test_concurrent_clients_each_get_their_own_video(server_url, client):
    references = {seed: probe(client.predict(seed=seed, **SMALL)[0]).frames for seed in SEEDS[:4:2]}

    def one(seed):
        own = Client(server_url, verbose=False)
        video, _, used = own.predict(seed=seed, **SMALL)
        return seed, used, video

    with ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(one, SEEDS))

    assert len(results) == CLIENTS and len({video for _, _, video in results}) == CLIENTS  # none lost or shared
    frames_by_seed: dict[int, list[np.ndarray]] = {}
    for seed, used, video in results:
        assert used == seed
        assert media.read_metadata(video)["settings"]["seed"] == seed
        frames = probe(video).frames
        assert len(frames) == 5
        frames_by_seed.setdefault(seed, []).append(frames)
    for seed, pair in frames_by_seed.items():
        assert len(pair) == 2 and np.array_equal(pair[0], pair[1]), f"seed {seed} gave two different videos"
        if seed in references:
            assert np.array_equal(pair[0], references[seed])
    firsts = [pair[0] for pair in frames_by_seed.values()]
    assert all(not np.array_equal(a, b) for i, a in enumerate(firsts) for b in firsts[i + 1:])


@pytest.fixture
def small_queue_server():
    """A second app process whose queue holds only 2 waiting requests."""
    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "STUDIO_QUEUE_SIZE": "2"}
    process = subprocess.Popen([sys.executable, "app.py", "--tiny"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, "the second app exited on start"
            assert time.monotonic() < deadline, "the second app did not start"
            try:
                if httpx.get(f"{url}config", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        yield url
    finally:
        process.kill()
        process.wait(timeout=10)


def test_full_queue_is_refused_cleanly(small_queue_server):
    client = Client(small_queue_server, verbose=False)
    jobs = [client.submit(prompt="waves", preset="wan2.2-ti2v-5b", num_frames=33, steps=8, seed=i,
                          api_name="/text_to_video")
            for i in range(8)]
    done, refused = [], []
    for job in jobs:
        try:
            done.append(job.result(timeout=120))
        except QueueError as exc:
            refused.append(str(exc))
        except AppError as exc:  # gradio_client may report the refusal as an app error
            assert "Queue is full" in str(exc), str(exc)
            refused.append(str(exc))
    assert refused and done and len(refused) + len(done) == 8
    assert all("Queue is full" in message for message in refused)
    assert all(len(probe(video).frames) == 33 for video, _, _ in done)
    video, _, seed = client.predict(prompt="waves", num_frames=5, seed=77, api_name="/text_to_video")
    assert seed == 77 and len(probe(video).frames) == 5
