"""What each tab tells a visitor before anything is generated: the pre-flight line under the settings (size,
length, segments, model), filled when the page loads and again on every change, in the visitor's language; the
sliders a model choice resets; the image-to-video frames as the model will see them. These are the handlers the
page's load and change events call."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines import presets
from tabs import dance, image_to_video, lip_sync, stylize_video, text_to_video
from tests import factory

TINY = "tiny test model on CPU"


class Visitor:
    def __init__(self, accept_language: str = "en-US"):
        self.headers = {"accept-language": accept_language}


def test_text_to_video_preflight_gives_the_size_for_the_aspect_and_the_length():
    p = text_to_video.DEFAULT
    wide = presets.ASPECTS["16:9"]
    width, height = p.size_for_aspect(wide)
    assert width > height
    line = text_to_video._preflight(p.key, 13, "16:9", p.defaults.steps, p.defaults.guidance_scale, Visitor())
    assert line == f"{width}x{height}, 13 frames ({13 / p.defaults.fps:.1f} s) · {TINY}"
    tall = text_to_video._preflight(p.key, 9, "9:16", p.defaults.steps, p.defaults.guidance_scale, Visitor("zh-CN"))
    assert tall == f"{height}x{width}，9 帧（{9 / p.defaults.fps:.1f} 秒）· CPU 上的微型测试模型"
    too_many = text_to_video._preflight(p.key, 9, "16:9", p.limits.max_steps + 1, 1.0, Visitor())
    assert too_many == f"⚠ Steps must be between 1 and {p.limits.max_steps}, got {p.limits.max_steps + 1}."


def test_a_model_choice_resets_the_sliders_to_that_models_range():
    p = presets.get("text_to_video", "wan2.2-ti2v-5b")
    frames, steps, guidance = text_to_video._preset_changed(p.key)
    assert (frames.minimum, frames.maximum, frames.step, frames.value) == (
        p.limits.min_frames, p.limits.max_frames, p.limits.frame_step, p.defaults.num_frames)
    assert frames.info.startswith(f"{p.defaults.fps} ")
    assert (steps.maximum, steps.value, guidance.value) == (p.limits.max_steps, p.defaults.steps,
                                                            p.defaults.guidance_scale)

    p = presets.get("dance", "wan2.2-animate-14b")
    seconds, steps, guidance = dance._preset_changed(p.key)
    longest = p.limits.max_frames / p.defaults.fps
    assert (seconds.maximum, seconds.value) == (longest, min(5.0, longest))
    assert seconds.minimum * p.defaults.fps >= p.limits.min_frames and seconds.minimum % dance.SECONDS_STEP == 0
    assert (steps.maximum, steps.value, guidance.value) == (p.limits.max_steps, p.defaults.steps,
                                                            p.defaults.guidance_scale)

    p = presets.get("image_to_video", "wan2.1-flf2v-14b")
    frames, steps, guidance, last = image_to_video._preset_changed(p.key)
    assert (frames.maximum, frames.value, steps.maximum, guidance.value) == (
        p.limits.max_frames, p.defaults.num_frames, p.limits.max_steps, p.defaults.guidance_scale)
    assert frames.info.startswith(f"{p.defaults.fps} ")  # the model's frame rate beside the length
    assert last.label.key == "image_to_video.last_frame_required"  # the first+last model needs both frames
    assert image_to_video._preset_changed("wan2.2-ti2v-5b")[3].label.key == "image_to_video.last_frame_none"

    p = presets.get("stylize_video", "wan2.1-vace-1.3b")
    steps, guidance, strength, seconds, control, style = stylize_video._preset_changed(p.key)
    assert (steps.maximum, steps.value, guidance.value) == (p.limits.max_steps, p.defaults.steps,
                                                            p.defaults.guidance_scale)
    assert control.visible is True and style.visible is True  # VACE takes a control video and a style image


def test_dance_preflight_counts_the_frames_and_segments_of_the_chosen_length():
    p = dance.DEFAULT
    fps = p.defaults.fps
    line = dance._preflight(p.key, "animate", 2.0, p.defaults.steps, p.defaults.guidance_scale, Visitor())
    frames = int(line.split(" frames")[0].removeprefix("up to "))
    assert 2.0 * fps - 4 < frames <= 2.0 * fps  # at most the chosen 2 s, on the model's frame grid
    assert line == f"up to {frames} frames ({frames / fps:.1f} s) in 2 segment(s) · {TINY}"
    short = dance._preflight(p.key, "animate", 1.0, p.defaults.steps, p.defaults.guidance_scale, Visitor("zh-CN"))
    assert short.startswith("最多 ") and "分 1 段" in short and short.endswith("CPU 上的微型测试模型")
    wrong = dance._preflight(p.key, "dance-off", 2.0, p.defaults.steps, p.defaults.guidance_scale, Visitor())
    assert wrong.startswith("⚠") and "dance-off" in wrong


def test_stylization_preflight_and_lip_sync_limits_name_the_models_window_and_length():
    p = stylize_video.DEFAULT
    line = stylize_video._preflight(p.key, p.defaults.steps, p.defaults.guidance_scale, 0.7, Visitor())
    window = p.defaults.num_frames / p.defaults.fps
    assert line.startswith(f"Up to {stylize_video.pipeline.rules(p).max_seconds:g} s at {p.defaults.fps} fps, "
                           f"made in {window:.1f}-s windows at about {p.defaults.width}x{p.defaults.height} pixels")
    assert line.endswith(TINY)
    assert stylize_video._preflight("no-such-model", 2, 1.0, 0.7, Visitor()).startswith("⚠")
    p = lip_sync.DEFAULT
    seconds = min(p.limits.max_frames / p.defaults.fps, 60)
    assert lip_sync._limits(p.key, Visitor()) == f"Speech up to {seconds:g} s · {p.defaults.fps} fps · {TINY}"
    assert lip_sync._limits(p.key, Visitor("zh-CN")).startswith(f"语音最长 {seconds:g} 秒")


def test_image_to_video_shows_both_frames_as_the_model_will_see_them(tmp_path):
    p = image_to_video.DEFAULT
    nothing = image_to_video._preview(None, None, p.key, "crop", 9, p.defaults.steps, 1.0, Visitor())
    assert nothing == (None, None, "Add a first frame to see it as the model will.")
    first = factory.image(tmp_path / "first.png", 200, 100, seed=1)
    last = factory.image(tmp_path / "last.png", 200, 100, seed=2)
    shown_first, shown_last, line = image_to_video._preview(str(first), str(last), p.key, "crop", 9,
                                                            p.defaults.steps, 1.0, Visitor())
    plan = image_to_video.pipeline.plan(image_to_video.pipeline.Request(image=str(first), last_image=str(last),
                                                                        prompt="x", preset=p.key, num_frames=9))
    assert np.array_equal(np.asarray(shown_first), np.asarray(plan.frames.first))
    assert np.array_equal(np.asarray(shown_last), np.asarray(plan.frames.last))
    assert not np.array_equal(np.asarray(shown_first), np.asarray(shown_last))
    assert np.asarray(shown_first).shape[:2] == (plan.height, plan.width)
    assert line == f"Output {plan.width}x{plan.height}, 9 frames ({9 / p.defaults.fps:.1f} s) · {TINY}"
    _, no_last, _ = image_to_video._preview(str(first), None, p.key, "crop", 9, p.defaults.steps, 1.0, Visitor())
    assert no_last is None
    *_, refused = image_to_video._preview(str(first), None, p.key, "crop", 9, p.limits.max_steps + 1, 1.0,
                                          Visitor("zh-CN"))
    assert refused.startswith("⚠") and "Steps" not in refused and str(p.limits.max_steps + 1) in refused


@pytest.mark.parametrize("added, preset, expected", [
    (True, image_to_video.DEFAULT.key, "first+last default"),
    (True, "wan2.2-ti2v-5b", "wan2.2-ti2v-5b"),
    (False, image_to_video.DEFAULT.key, image_to_video.DEFAULT.key)])
def test_adding_a_last_frame_on_the_default_model_switches_to_the_first_last_model(tmp_path, added, preset, expected):
    last = str(factory.image(tmp_path / "last.png", 64, 64, seed=3)) if added else None
    chosen = image_to_video._last_frame_added(last, preset)
    if expected == "first+last default":
        assert chosen == image_to_video.pipeline.default_preset(last).key != preset
    else:
        assert chosen == expected


def test_a_portrait_video_is_previewed_and_named_on_upload_in_the_visitors_language(tmp_path):
    clip = factory.video(tmp_path / "talking.mp4", seconds=0.5, fps=25, width=64, height=64)
    photo, video, note = lip_sync._check_portrait(str(clip), Visitor())
    assert note == "Video talking.mp4: ready." and video.visible and not photo.visible
    *_, note = lip_sync._check_portrait(str(clip), Visitor("zh-CN"))
    assert note == "视频 talking.mp4：可以开始。"


def test_lip_sync_fetches_only_the_files_each_of_its_models_reads(monkeypatch):
    """MuseTalk's and the helpers' Hub repos hold other models too: each download names the files it needs."""
    from pipelines import lip_sync as pipeline
    from pipelines import runtime

    asked = []
    real = runtime.hub_folder

    def hub_folder(repo_id, tiny_builder, allow_patterns=None):
        asked.append((repo_id, allow_patterns))
        return real(repo_id, tiny_builder, allow_patterns=allow_patterns)

    monkeypatch.setattr(runtime, "hub_folder", hub_folder)
    pipeline._load(lip_sync.DEFAULT)
    assert len(asked) == 4 and all(patterns for _, patterns in asked), asked
    assert {tuple(p) for _, p in asked} >= {(pipeline.UNET_CONFIG, pipeline.UNET_WEIGHTS),
                                            tuple(pipeline.HF_MODEL_FILES)}


def test_a_text_the_language_files_lack_fails_loudly_instead_of_showing_nothing():
    from tabs import i18n

    with pytest.raises(KeyError):
        i18n.message("no.such.text", "zh-CN")
    assert i18n.message("common.tiny_model", "zh-CN") == "CPU 上的微型测试模型"
