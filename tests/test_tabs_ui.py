"""What the tabs promise a first-time visitor, checked on the built page and the tabs' own functions: one Stop
beside each Generate, random seeds by default, sliders that start on a valid stop, a portrait checked on upload,
progress that says whether the model is built, loaded, cached or downloaded, and a start-up line with the URL."""

from __future__ import annotations

import gradio as gr
import numpy as np
import pytest
from PIL import Image

from pipelines import presets, runtime
from tabs import TABS, i18n, lip_sync
from tabs import _widgets as w
from tests.test_i18n import final


class FakeRequest:
    def __init__(self, accept_language: str = "en-US"):
        self.headers = {"accept-language": accept_language}
        self.session_hash = "tabs-ui"


def _blocks(kind):
    import app  # built when first needed, as the server fixture does (not while tests are collected)

    return [block for block in app.demo.blocks.values() if isinstance(block, kind)]


def test_one_stop_button_beside_each_generate_button_hidden_until_it_generates():
    stops = [b for b in _blocks(gr.Button) if "stop-button" in (b.elem_classes or [])]
    assert len(stops) == len(TABS)
    generates = {b.elem_id: b for b in _blocks(gr.Button) if (b.elem_id or "").startswith("generate-")}
    assert len(generates) == len(TABS)
    for stop in stops:
        assert stop.visible is False
        row = stop.parent
        assert isinstance(row, gr.Row) and any(child.elem_id in generates for child in row.children)


def test_seeds_are_random_by_default_and_reuse_keeps_the_one_shown():
    random_boxes = {b._id for b in _blocks(gr.Checkbox) if str(b.label) == str(i18n.t("common.random_seed"))}
    assert len(random_boxes) == len(TABS)
    # The page ticks every one when it loads; the API keeps "off" as its default (a given seed is used).
    import app

    on_load = [fn for fn in app.demo.fns.values() if not fn.inputs and len(fn.outputs) == 1
               and fn.outputs[0]._id in random_boxes and any(kind == "load" for _, kind in fn.targets)]
    assert len(on_load) == len(TABS) and all(fn.fn() is True for fn in on_load)
    assert all(app.demo.blocks[box].value is False for box in random_boxes)
    assert w._keep_seed(1234, FakeRequest()) is False


def test_every_slider_starts_on_a_value_it_can_reach():
    for slider in _blocks(gr.Slider):
        steps = (slider.value - slider.minimum) / slider.step
        assert abs(steps - round(steps)) < 1e-6, (slider.label, slider.minimum, slider.step, slider.value)
        low = (slider.maximum - slider.minimum) / slider.step
        assert abs(low - round(low)) < 1e-6 or slider.step == 1, (slider.label, slider.minimum, slider.maximum)
        if slider.step < 1:  # seconds in half steps: the first stop is a whole step too (no 0.625, 1.125, ...)
            assert round(slider.minimum / slider.step, 6) == round(slider.minimum / slider.step), slider.label


def test_an_unusable_portrait_is_named_by_its_file_name_on_upload(tmp_path):
    blank = tmp_path / "holiday.png"
    Image.new("RGB", (256, 256), (120, 160, 200)).save(blank)
    broken = tmp_path / "broken.png"
    broken.write_text("not a picture")
    face = str(w.ASSETS / "examples" / "lip_sync" / "drawn_face.png")

    photo, _, note = lip_sync._check_portrait(str(blank), FakeRequest())
    assert note.startswith("⚠ No face found in the photo") and photo.visible
    *_, note = lip_sync._check_portrait(str(broken), FakeRequest())
    assert note.startswith("⚠") and "'broken.png'" in note and str(tmp_path) not in note
    *_, note = lip_sync._check_portrait(str(broken), FakeRequest("zh-CN"))
    assert "肖像文件 'broken.png' 不是可读取的图片" in note and str(tmp_path) not in note
    *_, note = lip_sync._check_portrait(face, FakeRequest())
    assert not note.startswith("⚠") and "drawn_face.png" in note


def test_progress_says_whether_the_model_is_built_loaded_cached_or_downloaded(tmp_path, monkeypatch):
    tiny = presets.get("text_to_video", None)
    monkeypatch.setattr(runtime.CACHE, "_entries", {})
    assert runtime.model_state(tiny) == "tiny"
    monkeypatch.setattr(runtime.CACHE, "_entries", {(tiny.task, tiny.key, True): None})
    assert runtime.model_state(tiny) == "memory"

    monkeypatch.setattr(runtime.CACHE, "_entries", {})
    real = presets.Preset.__new__(presets.Preset)
    object.__setattr__(real, "__dict__", {**tiny.__dict__, "tiny": False})
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    assert runtime.model_state(real) == "download"
    (tmp_path / f"models--{real.repo_id.replace('/', '--')}" / "snapshots" / "abc").mkdir(parents=True)
    assert runtime.model_state(real) == "cache"

    said = []
    w.loading(lambda value, desc: said.append(desc), real)
    assert said == [f"Loading {real.label.split(' ·')[0]} from the local cache"]


def test_a_chinese_visitor_gets_the_result_line_and_progress_in_chinese():
    from tabs import text_to_video

    video, info, seed = final(text_to_video.text_to_video("一只猫", num_frames=5, steps=1,
                                                          request=FakeRequest("zh-CN")))
    assert info.startswith(f"种子 **{seed}**") and "分享链接" in info and "frames" not in info


def test_the_start_up_line_names_the_url_and_smoke_mode():
    import server

    line = server.ready_line("0.0.0.0", 7861)
    assert "http://127.0.0.1:7861/" in line and "smoke mode ON" in line


@pytest.mark.parametrize("what", ["window 2/3, step 1/4", "depth control video", "depth maps 3/9", "anything"])
def test_stylization_progress_is_translated(what):
    from tabs import stylize_video

    text = stylize_video._stage(what, "zh-CN")
    assert text and not any(word in text for word in ("window", "step", "depth", "maps", "anything"))
    assert np.all([ch.isascii() for ch in stylize_video._stage(what, "en")])

