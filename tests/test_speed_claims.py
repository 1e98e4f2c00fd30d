"""The speed claims each tab relies on: helper models load once, nothing slow runs inside the GPU window, the
pipeline cache keeps what its budget allows, and the per-request cache hooks really run."""

from __future__ import annotations

import os
import time
from collections import Counter

import pytest
from PIL import Image

from pipelines import dance, face, presets, runtime
from pipelines import image_to_video as i2v
from pipelines import lip_sync as ls
from pipelines import stylize_video as sv
from pipelines import text_to_video as t2v
from tabs import image_to_video as i2v_tab
from tests import factory
from tests.spies import outcome


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("speed-claims")
    Image.fromarray(factory.face_pixels()).save(root / "face.png")
    return {"source": factory.video(root / "source.mp4", seconds=1.0, fps=30),
            "character": factory.image(root / "character.png", 64, 96, seed=4),
            "dance": factory.video(root / "dance.mp4", seconds=1.0, fps=30, width=96, height=64),
            "face": root / "face.png", "first": factory.image(root / "first.png", 96, 64, seed=1)}


@pytest.fixture
def loads(monkeypatch) -> Counter:
    """How often each helper model is read from disk, whichever code path asks for it."""
    import onnxruntime
    from transformers import AutoModelForDepthEstimation, SpeechT5ForTextToSpeech, WhisperModel

    counted: Counter = Counter()
    for name, cls in (("depth", AutoModelForDepthEstimation), ("speech", WhisperModel),
                      ("voice", SpeechT5ForTextToSpeech)):
        def from_pretrained(owner, *args, _real=cls.from_pretrained, _name=name, **kwargs):
            counted[_name] += 1
            return _real(*args, **kwargs)

        monkeypatch.setattr(cls, "from_pretrained", classmethod(from_pretrained))
    real_session = onnxruntime.InferenceSession

    def session(path, *args, **kwargs):  # the whole-body person detector and pose model: two files, one each
        counted[f"pose {os.path.basename(str(path))}"] += 1
        return real_session(path, *args, **kwargs)

    monkeypatch.setattr(onnxruntime, "InferenceSession", session)
    real_detector = face._Detector.__init__

    def detector(self, *args, **kwargs):
        counted["face"] += 1
        real_detector(self, *args, **kwargs)

    monkeypatch.setattr(face._Detector, "__init__", detector)
    return counted


def test_helper_models_load_once_and_stay_loaded(files, loads):
    def every_tab():
        sv.run(sv.Request(video=str(files["source"]), prompt="sketch", control="depth", max_seconds=1.0))
        dance.run(dance.Request(files["character"], files["dance"], max_seconds=1.0))
        ls.run(ls.Request(portrait=str(files["face"]), text="Hi.", consent=True))

    every_tab()
    first = Counter(loads)
    assert all(count <= 1 for count in first.values()), first
    every_tab()
    assert loads == first, f"loaded again: {loads - first}"


def test_image_to_video_does_no_loading_or_encoding_inside_the_gpu_window(files):
    runtime.STATS.reset()
    outcome(i2v_tab.image_to_video(image=str(files["first"]), prompt="it moves", num_frames=5))
    assert runtime.STATS.calls == 1 and runtime.STATS.violations == []
    runtime.CACHE.clear()  # a cold start: the model must be loaded before the window opens, not inside it
    runtime.STATS.reset()
    i2v.run(i2v.Request(image=str(files["first"]), prompt="it moves", num_frames=5, preset="wan2.2-ti2v-5b"))
    assert runtime.STATS.calls == 1 and runtime.STATS.violations == []


@pytest.fixture
def cache(monkeypatch) -> runtime.PipelineCache:
    monkeypatch.setattr(runtime, "free_memory", lambda: None)  # a full garbage collection per eviction is slow
    return runtime.PipelineCache()


@pytest.mark.parametrize("budget_gb, kept", [("0", 1), ("", 1), ("1", 2), ("lots", 1), ("-5", 1)])
def test_the_cache_budget_decides_how_many_pipelines_stay(monkeypatch, cache, budget_gb, kept):
    monkeypatch.setenv("STUDIO_CACHE_GB", budget_gb)
    first, second = object(), object()
    cache.get(("a",), lambda: first, size_gb=0.4)
    cache.get(("b",), lambda: second, size_gb=0.4)
    assert len(cache) == kept and cache.loads == 2
    again = cache.get(("a",), object, size_gb=0.4)
    assert (again is first) == (kept == 2) and cache.loads == (2 if kept == 2 else 3)


def test_a_budget_evicts_the_least_recently_used_pipeline_when_full(monkeypatch, cache):
    monkeypatch.setenv("STUDIO_CACHE_GB", "10")
    for key in ("a", "b"):
        cache.get((key,), object, size_gb=4)
    cache.get(("a",), object, size_gb=4)  # used again: "b" is now the oldest
    cache.get(("c",), object, size_gb=4)  # 12 GB > 10 GB: one must go
    assert len(cache) == 2 and cache.loads == 3
    cache.get(("a",), object, size_gb=4)
    assert cache.loads == 3  # "a" stayed
    cache.get(("b",), object, size_gb=4)
    assert cache.loads == 4  # "b" was the one evicted


def test_two_first_requests_for_one_model_load_it_once_and_get_the_same_pipeline(cache):
    import threading

    started, loads = threading.Event(), []

    def slow_load():
        loads.append(1)
        started.set()
        time.sleep(0.3)  # the second request arrives while the first still loads
        return object()

    got = []
    threads = [threading.Thread(target=lambda: got.append(cache.get(("a",), slow_load))) for _ in range(2)]
    threads[0].start()
    started.wait(10)
    threads[1].start()
    for thread in threads:
        thread.join(10)
    assert len(loads) == 1 and cache.loads == 1 and len(got) == 2 and got[0] is got[1]


def test_real_pipelines_are_cached_with_their_size_against_the_budget(monkeypatch):
    """The size a preset's pipeline is filed under is its weights' memory, so the budget means gigabytes."""
    sizes = []
    monkeypatch.setattr(runtime.CACHE, "get",
                        lambda key, loader, size_gb=0.0, pin=False: sizes.append((size_gb, pin)))
    real = presets._load("text_to_video", False)["wan2.1-t2v-1.3b"]
    runtime.pipeline(real)
    c = real.cost
    # filed under its size, and not pinned: only the models loaded at start-up on ZeroGPU are
    assert sizes == [(pytest.approx(c.params_b * c.weight_bytes + c.other_gb), False)] and sizes[0][0] > 1


def test_pipelines_that_exactly_fill_the_budget_both_stay(monkeypatch, cache):
    monkeypatch.setenv("STUDIO_CACHE_GB", "1")
    cache.get(("a",), object, size_gb=0.5)
    cache.get(("b",), object, size_gb=0.5)
    assert len(cache) == 2


def test_a_slow_model_load_does_not_hold_up_loading_another_model(cache):
    import threading

    other_loaded = threading.Event()
    order = []

    def slow():
        other_loaded.wait(5)  # the other model's load must be able to finish meanwhile
        order.append("slow")
        return object()

    def quick():
        order.append("quick")
        other_loaded.set()
        return object()

    first = threading.Thread(target=cache.get, args=(("slow",), slow))
    first.start()
    time.sleep(0.2)
    cache.get(("quick",), quick)
    first.join(10)
    assert order == ["quick", "slow"]


@pytest.mark.parametrize("kind, hook", [("first-block", "first_block_cache.FBCHeadBlockHook"),
                                         ("taylorseer", "taylorseer_cache.TaylorSeerCacheHook")])
def test_the_chosen_cache_hook_runs_during_denoising_and_only_then(monkeypatch, kind, hook):
    import importlib

    module_name, class_name = hook.split(".")
    cls = getattr(importlib.import_module(f"diffusers.hooks.{module_name}"), class_name)
    calls = []
    real = cls.new_forward
    monkeypatch.setattr(cls, "new_forward", lambda self, *a, **k: calls.append(1) or real(self, *a, **k))
    request = dict(prompt="a fox", num_frames=5, steps=3, preset="wan2.1-t2v-1.3b")
    t2v.run(t2v.Request(**request, cache=kind))
    assert len(calls) >= 3  # at least once per denoising step
    calls.clear()
    t2v.run(t2v.Request(**request))
    assert calls == []  # removed after the request


def test_ahead_of_time_compilation_is_tried_once_per_pipeline_on_a_one_step_example(monkeypatch):
    """The compile step (a no-op off ZeroGPU) runs on a pipeline's first request only, and traces a one-step
    example of that request that leaves the request's own seed and steps alone."""
    import types

    from pipelines import generation, speed

    tried, received = [], []

    def compile_ahead_of_time(pipe, example_call):
        tried.append(pipe)
        example_call()
        return False

    monkeypatch.setattr(speed, "compile_ahead_of_time", compile_ahead_of_time)

    class Pipe:
        def __call__(self, **kwargs):
            received.append(kwargs)
            return types.SimpleNamespace(frames=kwargs["prompt"])

    pipe = Pipe()
    request = {"prompt": "frames", "num_inference_steps": 4, "generator": runtime.generator(5)}
    for _ in range(3):
        assert generation.denoise(pipe, request, 4, lambda step, total: None) == ("frames", None)
    assert tried == [pipe] and len(received) == 4
    example, first = received[0], received[1]
    assert example["num_inference_steps"] == 1 and example["generator"].initial_seed() == 0
    assert example["prompt"] == "frames" and "callback_on_step_end" not in example
    assert first["num_inference_steps"] == 4 and first["generator"].initial_seed() == 5
    assert callable(first["callback_on_step_end"])
