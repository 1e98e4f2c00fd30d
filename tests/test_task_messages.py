"""What the task modules tell people and keep: a refusal names the whole model (not its first word) and the models
that can do it; each image-to-video result keeps every setting its tab would need to remix it; lip-sync's GPU
estimate grows with the frames and is made for the GPU asked about."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines import cost, presets
from pipelines import image_to_video as i2v
from pipelines import lip_sync
from tabs import _widgets as w
from tabs import image_to_video as i2v_tab
from tests import factory


def test_a_last_frame_the_model_cannot_take_is_refused_naming_the_model_and_the_ones_that_can(tmp_path):
    first = str(factory.image(tmp_path / "first.png", 96, 64, seed=1))
    last = str(factory.image(tmp_path / "last.png", 96, 64, seed=2))
    with pytest.raises(ValueError) as refused:
        i2v.prepare_frames(presets.get(i2v.TASK, "wan2.2-ti2v-5b"), first, last, "crop")
    assert str(refused.value).startswith("Wan 2.2 TI2V 5B animates from a first frame only")
    assert "Wan 2.1 FLF2V 14B" in str(refused.value)


def test_an_image_to_video_result_keeps_every_setting_its_tab_refills_on_remix(tmp_path):
    first = str(factory.image(tmp_path / "first.png", 96, 64, seed=1))
    p = i2v.plan(i2v.Request(image=first, prompt="a flower opens", negative_prompt="blur", num_frames=13, steps=3,
                             guidance_scale=2.5, seed=5))
    settings = p.settings()
    files = {"image", "last_image"}  # kept as files with the result, not as settings
    flags = {"randomize_seed", "live_preview", "improve_prompt", "original_prompt"}
    wanted = set(w.api_parameters(i2v_tab.image_to_video)) - files - flags
    assert wanted <= set(settings), wanted - set(settings)
    assert (settings["prompt"], settings["negative_prompt"], settings["num_frames"], settings["steps"],
            settings["guidance_scale"], settings["seed"]) == ("a flower opens", "blur", 13, 3, 2.5, 5)


def test_lip_sync_estimate_grows_with_the_frames_and_uses_the_gpu_asked_about():
    preset = presets.get(lip_sync.TASK, None)

    class Plan:  # the estimate reads only the preset of a plan
        pass

    plan = Plan()
    plan.preset = preset
    short, long = lip_sync.estimate(plan, 25), lip_sync.estimate(plan, 50)
    assert short.gpu == "ZeroGPU" and 0 < short.seconds < long.seconds
    assert abs(long.seconds - 2 * short.seconds) <= 0.1
    other = next(g for g in cost.GPUS if g != "ZeroGPU")
    assert lip_sync.estimate(plan, 25, other).gpu == other


@pytest.mark.parametrize("missing, preset", [(None, ""), ("", ""), ("  ", "wan2.2-animate-14b"),
                                             (None, "wan2.2-animate-14b")])
def test_a_dance_without_a_character_image_is_refused_saying_which_file_is_missing(tmp_path, missing, preset):
    import gradio as gr

    from tabs import dance as dance_tab

    clip = factory.video(tmp_path / "dance.mp4", seconds=1.0, fps=8, width=48, height=32)
    with pytest.raises(gr.Error) as refused:
        dance_tab.dance(character_image=missing, dance_video=str(clip), preset=preset or dance_tab.DEFAULT.key)
    assert refused.value.message == "No character image was given: upload one."


def test_a_text_to_video_result_keeps_every_setting_its_tab_refills_on_remix():
    from pipelines import text_to_video as t2v
    from tabs import text_to_video as t2v_tab

    p = t2v.plan(t2v.Request(prompt="a fox", negative_prompt="blur", preset="wan2.2-ti2v-5b", num_frames=13,
                             aspect="1:1", steps=4, guidance_scale=3.0, seed=8))
    settings = p.settings()
    flags = {"randomize_seed", "live_preview", "improve_prompt", "original_prompt"}
    assert set(w.api_parameters(t2v_tab.text_to_video)) - flags <= set(settings)
    assert (settings["preset"], settings["aspect"], settings["steps"], settings["seed"]) == (
        "wan2.2-ti2v-5b", "1:1", 4, 8)


def test_crop_fills_the_frame_and_pad_keeps_the_whole_picture_with_black_bars():
    from PIL import Image

    wide = Image.new("RGB", (200, 100), (250, 250, 250))
    cropped = np.asarray(i2v.fit_frame(wide, 100, 100, "crop"))
    padded = np.asarray(i2v.fit_frame(wide, 100, 100, "pad"))
    assert cropped.min() > 200  # no bars: the picture covers the frame
    assert padded[0].max() == 0 and padded[-1].max() == 0 and padded[50, 50].min() > 200
