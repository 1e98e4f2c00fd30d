"""Faults in the middle of a request: the GPU running out of memory, the Hub unreachable, the person pressing
Stop. Each one reaches the caller as a clear error, and the next request works. The server runs in the test
process, so the faults are injected by patching the loaded model and the runtime in place."""

from __future__ import annotations

import threading

import httpx
import pytest
from gradio_client.exceptions import AppError

from pipelines import presets, runtime
from tests.video_checks import probe

MANY_STEPS = "wan2.2-ti2v-5b"  # a preset whose step loop is long enough to be stopped in the middle
SMALL = dict(prompt="a paper boat on a pond", num_frames=5, api_name="/text_to_video")


def assert_next_request_works(client, seed):
    video, _, used = client.predict(seed=seed, **SMALL)
    assert used == seed and len(probe(video).frames) == 5


def test_out_of_memory_mid_denoise_is_explained(client, monkeypatch):
    """The tiny transformer raises torch's out-of-memory error on its 2nd call (the 2nd denoising pass)."""
    import torch

    client.predict(seed=1, **SMALL)  # the default preset is loaded and cached
    transformer = runtime.pipeline(presets.get("text_to_video", None)).transformer
    real_forward = transformer.forward
    calls = []

    def forward(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return real_forward(*args, **kwargs)

    monkeypatch.setattr(transformer, "forward", forward)
    with pytest.raises(AppError, match="(?i)out of memory.*resolution.*frames.*steps"):
        client.predict(seed=2, **SMALL)
    assert len(calls) == 2  # it failed in the middle of denoising, not before
    monkeypatch.undo()
    assert_next_request_works(client, 3)


def test_hub_outage_names_the_repo_and_the_offline_mode(client, monkeypatch):
    """The model is not loaded yet and its download fails with a connection error."""
    preset = presets.get("text_to_video", None)
    attempts = []

    def unreachable(requested):
        attempts.append(requested.repo_id)
        with runtime.hub_errors(requested.repo_id):
            raise httpx.ConnectError("[Errno 111] Connection refused")

    runtime.CACHE.clear()
    monkeypatch.setattr(runtime, "model_source", unreachable)
    with pytest.raises(AppError) as refused:
        client.predict(seed=4, **SMALL)
    assert attempts == [preset.repo_id]
    assert preset.repo_id in str(refused.value) and "STUDIO_TINY=1" in str(refused.value)
    monkeypatch.undo()
    assert_next_request_works(client, 5)


def test_stop_ends_a_running_request(client, monkeypatch):
    """Stop is pressed (runtime.request_cancel for this client's session, from another thread) while the
    request denoises: the first transformer call waits for the press, so the tiny model cannot finish first.
    It asks for 20 steps of the 50-step model (the default preset is a 3-step distilled one)."""
    transformer = runtime.pipeline(presets.get("text_to_video", MANY_STEPS)).transformer
    real_forward = transformer.forward
    denoising, pressed = threading.Event(), threading.Event()
    calls = []

    def forward(*args, **kwargs):
        calls.append(1)
        denoising.set()
        pressed.wait(timeout=30)
        return real_forward(*args, **kwargs)

    def press_stop():
        if denoising.wait(timeout=60):
            runtime.request_cancel(client.session_hash)
        pressed.set()

    monkeypatch.setattr(transformer, "forward", forward)
    stopper = threading.Thread(target=press_stop)
    stopper.start()
    job = client.submit(prompt="a paper boat on a pond", preset=MANY_STEPS, num_frames=9, steps=20, seed=6,
                        api_name="/text_to_video")
    with pytest.raises(AppError, match="Stopped. Nothing was saved"):
        job.result(timeout=120)
    stopper.join()
    assert 0 < len(calls) < 20  # ended inside the loop, long before its 20 steps
    monkeypatch.undo()
    assert_next_request_works(client, 7)
