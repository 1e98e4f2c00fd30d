"""Fast by default and licences where a person picks a model: the distilled text-to-video default samples on its
trained timesteps with re-noising, the picker names speed, GPU and licence in both languages, and an operator
can keep models that are not free for commercial use off the server."""

from __future__ import annotations

import json

import pytest

from bench import run as bench
from pipelines import presets, runtime, store
from pipelines import text_to_video as t2v
from tabs import i18n
from tests.spies import largest_timestep, transformer_kwargs


def made_with(video: str) -> str:
    """The preset recorded in a returned MP4's embedded settings (the info line shows the model's label)."""
    from pipelines import media

    return media.read_metadata(video)["settings"]["preset"]

TASKS = ("text_to_video", "image_to_video", "stylize_video", "dance", "lip_sync")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return bench.make_inputs(tmp_path_factory.mktemp("models-inputs"))


def test_the_text_to_video_default_is_the_three_step_student_on_its_trained_timesteps(files):
    assert next(iter(presets.presets("text_to_video"))) == "fastwan2.2-ti2v-5b"
    fast, reference = bench.real_and_reference("text_to_video", "fastwan2.2-ti2v-5b")
    with bench.preset_swapped(fast):
        pipe = runtime.pipeline(fast)
        seen, _ = transformer_kwargs(pipe, largest_timestep,
                                     lambda: t2v.run(bench.request("text_to_video", fast.key, files)))
    # FastVideo fastvideo/configs/pipelines/wan.py FastWan2_2_TI2V_5B_Config.dmd_denoising_steps
    assert seen == [1000, 757, 522]
    assert bench.count("text_to_video", fast, files) == 3
    # the reference is the model it is distilled from: 50 steps with CFG (the benchmark counts its 100 passes)
    assert (reference.defaults.steps, reference.defaults.guidance_scale) == (50, 5.0)
    assert pipe.scheduler.config.shift == 1.0 and pipe.scheduler.config.stochastic_sampling


def test_the_re_noising_sampler_draws_from_the_seed_not_from_global_randomness():
    import torch

    pipe = runtime.pipeline(presets.get("text_to_video", "fastwan2.2-ti2v-5b"))
    generators = []
    original = pipe.scheduler.step

    def spy(*args, **kwargs):
        generators.append(kwargs.get("generator") or pipe.scheduler.noise_generator)
        return original(*args, **kwargs)

    pipe.scheduler.step = spy
    try:
        torch.manual_seed(1)
        first = t2v.run(t2v.Request(prompt="a lighthouse", seed=7, num_frames=5)).frames
        torch.manual_seed(2)  # a different global state must not change the video
        second = t2v.run(t2v.Request(prompt="a lighthouse", seed=7, num_frames=5)).frames
    finally:
        del pipe.scheduler.step
    assert (first == second).all()
    assert generators and all(isinstance(g, torch.Generator) for g in generators)


def test_every_preset_has_a_picker_label_in_both_languages_naming_its_licence():
    en = json.loads((i18n.I18N_DIR / "en.json").read_text(encoding="utf-8"))
    zh = json.loads((i18n.I18N_DIR / "zh-CN.json").read_text(encoding="utf-8"))
    for task in TASKS:
        table = presets._load(task, False)
        for key, preset in table.items():
            label_key = f"preset.{task}.{key}"
            assert en[label_key] == preset.label, label_key  # the CLI's --list and the picker say the same
            assert zh[label_key] != en[label_key]
            expected = "non-commercial" if preset.licence.commercial == "no" else preset.licence.name.split(" (")[0]
            assert expected in preset.label, label_key
            assert "GB" in preset.label, f"{label_key} does not say what GPU it needs"
            assert preset.licence.commercial in presets.COMMERCIAL_VALUES
        default = next(iter(table.values()))
        if default.defaults.steps <= 10:
            assert "· fast ·" in default.label, task
        for preset in list(table.values())[1:]:
            if "best quality" in preset.label:
                assert preset.defaults.steps > default.defaults.steps, preset.key


def test_commercial_only_hides_and_refuses_presets_whose_licence_limits_commercial_use(monkeypatch):
    from tabs import _widgets as w

    assert "lucy-edit-dev" in presets.presets("stylize_video")
    monkeypatch.setenv("STUDIO_COMMERCIAL_ONLY", "1")
    offered = {task: set(presets.presets(task)) for task in TASKS}
    assert "lucy-edit-dev" not in offered["stylize_video"]
    assert "ltx2.3-distilled" not in offered["text_to_video"] and "ltx2-keyframes" not in offered["image_to_video"]
    assert {"fastwan2.2-ti2v-5b", "wan2.2-ti2v-5b"} <= offered["text_to_video"]
    assert all(p.licence.commercial == "yes" for task in TASKS for p in presets.presets(task).values())
    picker = w.model_picker("stylize_video")
    assert "lucy-edit-dev" not in [value for _, value in picker.choices]
    with pytest.raises(ValueError, match=r"not offered on this server: its licence \(Lucy Edit"):
        presets.get("stylize_video", "lucy-edit-dev")


def test_the_endpoint_refuses_a_non_commercial_preset_with_a_clear_message(client, monkeypatch):
    monkeypatch.setenv("STUDIO_COMMERCIAL_ONLY", "1")  # the server runs in this process and reads it per request
    with pytest.raises(Exception, match="not offered on this server") as caught:
        client.predict(prompt="a lighthouse", preset="ltx2.3-distilled", api_name="/text_to_video")
    assert "/tmp" not in str(caught.value)


def test_a_saved_result_carries_its_models_licence():
    saved = store.save(t2v.run(t2v.Request(prompt="a lighthouse", seed=1, num_frames=5)))
    assert saved.metadata["licence"] == {"name": "Apache-2.0", "url": "https://www.apache.org/licenses/LICENSE-2.0",
                                         "commercial": "yes"}
    assert store.get(saved.id).metadata["licence"]["name"] == "Apache-2.0"


def test_ltx_2_5_runs_its_own_classes_end_to_end_with_48_khz_sound(client):
    from gradio_client import handle_file  # noqa: F401  (the client fixture serves the same app)

    preset = presets.get("text_to_video", "ltx2.5-distilled")
    pipe = runtime.pipeline(preset)
    assert type(pipe.text_encoder).__name__ == "Gemma4UnifiedForConditionalGeneration"
    assert type(pipe.vocoder).__name__ == "LTX2VocoderWithBWE"
    seen = []
    handle = pipe.text_encoder.register_forward_pre_hook(lambda m, a, k: seen.append(k["input_ids"].shape), with_kwargs=True)
    try:
        result = t2v.run(t2v.Request(prompt="waves on a beach", preset="ltx2.5-distilled", seed=2))
    finally:
        handle.remove()
    assert seen and result.frames.shape[0] == preset.defaults.num_frames
    assert result.sample_rate == 48000 and result.audio is not None and result.audio.size > 0
    video, info, seed = client.predict(prompt="waves on a beach", preset="ltx2.5-distilled", seed=3,
                                       api_name="/text_to_video")
    assert made_with(video) == "ltx2.5-distilled" and "/r/" in info


def test_the_dance_default_is_animate_2_distilled_one_reference_pass_then_its_steps(files):
    from pipelines import dance

    preset = presets.get("dance", None)
    assert preset.key == "wan2.2-animate-2-14b-distilled"
    pipe = runtime.pipeline(preset)
    assert type(pipe).__name__ == "WanAnimate2DistilledModularPipeline"
    fast, _ = bench.real_and_reference("dance", preset.key)
    assert bench.count("dance", fast, files) == 11  # per segment: the reference-extraction pass + 10 steps
    steps = []
    modes, result = transformer_kwargs(pipe, lambda kwargs: kwargs["kv_cache_mode"], lambda: dance.run(
        dance.Request(files["character"], files["video"], seed=4, max_seconds=1.0), progress=steps.append))
    assert modes == ["extract", "cached", "cached"] and [str(s) for s in steps] == [
        "segment 1/1, step 1/2", "segment 1/1, step 2/2"]
    assert result.frames.shape[0] == 8 and result.settings["pose_source"].startswith("none")
    # Guidance above 1 turns the guider's unconditional pass on: two passes per step.
    modes, _ = transformer_kwargs(pipe, lambda kwargs: kwargs["kv_cache_mode"], lambda: dance.run(
        dance.Request(files["character"], files["video"], seed=4, max_seconds=1.0, guidance_scale=3.0)))
    assert modes == ["extract", "cached", "cached", "cached", "cached"]
    with pytest.raises(ValueError, match="has no replacement mode"):
        dance.plan(dance.Request("a.png", "b.mp4", mode="replace"))


def test_the_dance_endpoint_runs_animate_2_and_returns_the_driving_video_it_followed(client, files):
    from gradio_client import handle_file

    video, followed, info, seed = client.predict(character_image=handle_file(files["character"]),
                                                 dance_video=handle_file(files["video"]), seed=5, max_seconds=1.0,
                                                 api_name="/dance")
    assert followed and made_with(video) == "wan2.2-animate-2-14b-distilled" and "/r/" in info and seed == 5


def test_hunyuanvideo_1_5_takes_the_guidance_through_its_guider_and_reports_each_step(client):
    preset = presets.get("text_to_video", "hunyuanvideo1.5-480p")
    pipe = runtime.pipeline(preset)
    assert type(pipe).__name__ == "HunyuanVideo15Pipeline"
    calls, steps = [], []
    handle = pipe.transformer.register_forward_pre_hook(lambda m, a, k: calls.append(1), with_kwargs=True)
    try:
        t2v.run(t2v.Request(prompt="a lantern", preset=preset.key, seed=1), progress=lambda s, n: steps.append(s))
        with_cfg = len(calls)
        t2v.run(t2v.Request(prompt="a lantern", preset=preset.key, seed=1, guidance_scale=1.0))
    finally:
        handle.remove()
    assert with_cfg == 2 * preset.defaults.steps and len(calls) - with_cfg == preset.defaults.steps
    assert steps == list(range(1, preset.defaults.steps + 1))
    video, info, seed = client.predict(prompt="a lantern", preset=preset.key, seed=2, api_name="/text_to_video")
    assert made_with(video) == preset.key and "/r/" in info
