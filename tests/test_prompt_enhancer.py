"""Improve my prompt: a small instruct model rewrites the prompt in its own language; the rewrite reaches the
video pipeline and both prompts are kept in the result's settings."""

from __future__ import annotations

import re
import types

import pytest

from pipelines import enhance, presets, runtime, store
from tabs import text_to_video as t2v_tab


@pytest.fixture
def chats(monkeypatch):
    """What the language model is asked: the messages given to its chat template."""
    tokenizer, _ = enhance.model()
    seen = []
    original = tokenizer.apply_chat_template

    def spy(messages, *args, **kwargs):
        seen.append(messages)
        return original(messages, *args, **kwargs)

    monkeypatch.setattr(tokenizer, "apply_chat_template", spy)
    return seen


@pytest.mark.parametrize("prompt, system", [
    ("a cat on a roof", enhance.SYSTEM_PROMPTS[("text_to_video", "en")]),
    ("一只猫在屋顶上", enhance.SYSTEM_PROMPTS[("text_to_video", "zh")]),
])
def test_the_rewrite_keeps_the_prompts_language(chats, prompt, system):
    rewritten = enhance.improve(prompt)
    assert rewritten and rewritten == enhance.improve(prompt)  # seeded: the same rewrite again
    assert chats[0] == [{"role": "system", "content": system}, {"role": "user", "content": prompt}]


def test_image_to_video_prompts_get_the_motion_instructions(chats):
    enhance.improve("the dog runs", task="image_to_video")
    assert chats[0][0]["content"] == enhance.SYSTEM_PROMPTS[("image_to_video", "en")]


def test_the_answer_is_cleaned_into_a_prompt():
    assert enhance.clean('Rewritten prompt: "A cat\x00 walks\n on a roof."') == "A cat walks on a roof."
    assert enhance.clean("改写后prompt：一只猫") == "一只猫"


def test_an_empty_prompt_is_refused_before_the_model_runs():
    calls = runtime.STATS.calls
    with pytest.raises(ValueError, match="prompt is empty"):
        enhance.improve("  ")
    assert runtime.STATS.calls == calls


def test_the_rewrite_reaches_the_pipeline_and_both_prompts_are_kept(monkeypatch):
    expected = enhance.improve("a cat on a roof", task="text_to_video")
    pipe = runtime.pipeline(presets.get("text_to_video", None))
    asked = []
    original_call = type(pipe).__call__

    def spy(self, *args, **kwargs):
        asked.append(kwargs.get("prompt"))
        return original_call(self, *args, **kwargs)

    monkeypatch.setattr(type(pipe), "__call__", spy)
    steps = list(t2v_tab.text_to_video("a cat on a roof", num_frames=5, steps=1, improve_prompt=True,
                                       live_preview=False, progress=lambda *a, **k: None,
                                       request=types.SimpleNamespace(session_hash="enhancer")))
    assert asked == [expected]
    result_id = re.search(r"/r/([A-Za-z0-9_-]{22})", steps[-1][1]).group(1)
    settings = store.get(result_id).settings
    assert settings["prompt"] == expected and settings["original_prompt"] == "a cat on a roof"


def test_the_page_button_is_a_public_endpoint_returning_both_prompts(client):
    rewritten, original = client.predict(prompt="a lighthouse", api_name="/improve_prompt")
    assert (rewritten, original) == (enhance.improve("a lighthouse"), "a lighthouse")
