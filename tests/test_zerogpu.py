"""ZeroGPU decisions on the CPU: what loads at start-up, which GPU size a request asks for, and that start-up
models stay resident."""

from __future__ import annotations

import pytest
import spaces

from pipelines import cost, presets, runtime, zerogpu

TABS = ["text_to_video", "image_to_video", "stylize_video", "dance", "lip_sync"]


@pytest.fixture
def on_zero_gpu(monkeypatch):
    monkeypatch.setattr(spaces.config.Config, "zero_gpu", True)
    monkeypatch.delenv("STUDIO_PRELOAD", raising=False)


def test_on_zero_gpu_the_default_preset_of_every_enabled_tab_loads_at_start_up(on_zero_gpu, monkeypatch):
    assert [p.key for p in zerogpu.preload_plan(TABS)] == [presets.get(task, None).key for task in TABS]
    assert [p.task for p in zerogpu.preload_plan(["image_to_video"])] == ["image_to_video"]
    monkeypatch.setenv("STUDIO_PRELOAD", "0")
    assert zerogpu.preload_plan(TABS) == []


def test_local_cuda_and_cpu_keep_lazy_loading(monkeypatch):
    monkeypatch.setattr(spaces.config.Config, "zero_gpu", False)
    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    assert zerogpu.preload_plan(TABS) == [] and zerogpu.preload(TABS) == []
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")  # the variable spaces reads, also honoured directly
    assert zerogpu.on_zero_gpu()


@pytest.mark.parametrize("task", TABS)
def test_each_preset_asks_for_the_smallest_gpu_it_fits(task):
    for preset in presets._load(task, False).values():
        peak = cost.peak_vram(preset, "gpu")
        expected = "large" if peak <= zerogpu.LARGE_GB * zerogpu.MARGIN else "xlarge"
        assert zerogpu.gpu_size(preset) == expected, preset.key
    real = presets._load("image_to_video", False)
    assert zerogpu.gpu_size(real["wan2.2-i2v-a14b-lightning"]) == "xlarge"  # two 14B experts resident
    assert zerogpu.gpu_size(real["wan2.2-ti2v-5b"]) == "large"


def test_the_gpu_window_reserves_the_size_of_the_plans_preset(monkeypatch):
    asked = []

    def fake_gpu(duration=None, size=None):
        def wrap(fn):
            return lambda *args, **kwargs: (asked.append(size), fn(*args, **kwargs))[1]

        return wrap

    monkeypatch.setattr(spaces, "GPU", fake_gpu)

    @runtime.gpu_task(duration=30)
    def work(plan):
        return plan.preset.key

    class Plan:
        def __init__(self, preset):
            self.preset = preset

    @runtime.gpu_task(duration=30)
    def steps(plan):  # a streaming GPU function (live previews) picks its size the same way
        yield plan.preset.key

    real = presets._load("image_to_video", False)
    assert work(Plan(real["wan2.2-ti2v-5b"])) == "wan2.2-ti2v-5b"
    work(Plan(real["wan2.2-i2v-a14b-lightning"]))
    assert list(steps(Plan(real["wan2.2-i2v-a14b-lightning"]))) == ["wan2.2-i2v-a14b-lightning"]
    assert asked == ["large", "xlarge", "xlarge"]


def test_start_up_models_stay_resident_whatever_the_cache_budget(on_zero_gpu, monkeypatch):
    monkeypatch.setenv("STUDIO_CACHE_GB", "0")  # keep only the latest pipeline...
    runtime.CACHE.clear()
    loaded = zerogpu.preload(["text_to_video", "stylize_video"])
    assert loaded == [f"text_to_video:{presets.get('text_to_video', None).key}",
                      f"stylize_video:{presets.get('stylize_video', None).key}"]
    runtime.pipeline(presets.get("text_to_video", "wan2.1-t2v-1.3b"))  # ...a lazily loaded one comes and goes
    runtime.pipeline(presets.get("image_to_video", "wan2.2-ti2v-5b"))
    keys = {key[:2] for key in runtime.CACHE._entries}
    assert {("text_to_video", presets.get("text_to_video", None).key),
            ("stylize_video", presets.get("stylize_video", None).key)} <= keys  # ...but the pinned ones stay
    assert ("text_to_video", "wan2.1-t2v-1.3b") not in keys and len(keys) == 3
    runtime.CACHE.clear()


def test_on_zero_gpu_the_offload_profile_comes_from_the_reserved_size_not_from_cuda(on_zero_gpu, monkeypatch):
    """Outside a request there is no GPU in the ZeroGPU main process: asking CUDA for free memory would fail."""
    from pipelines import speed

    monkeypatch.delenv("STUDIO_OFFLOAD", raising=False)
    monkeypatch.setattr(speed, "free_gpu_gb", lambda: (_ for _ in ()).throw(AssertionError("CUDA was asked")))
    for task in TABS:
        for preset in presets._load(task, False).values():
            assert speed.offload_for(preset) == "gpu", preset.key  # the size is picked so that it fits
