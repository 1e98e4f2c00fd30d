"""Your own LoRA from the Hub: parsed, fetched through the Hub cache, checked before the GPU window, applied for
one request and gone for the next, and kept in the result's settings."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from pipelines import presets, runtime, user_loras
from pipelines import text_to_video as t2v
from pipelines.tiny import hub_lora
from tabs import _widgets as w
from tabs import text_to_video as t2v_tab

STYLE = "someone/tiny-wan-style"
OTHER = "someone/wan-1.3b-style"


def put_in_hub_cache(cache, repo_id: str, filename: str, build) -> None:
    """A file where hf_hub_download finds it offline: the Hub cache layout (refs/main -> snapshot)."""
    folder = cache / f"models--{repo_id.replace('/', '--')}"
    commit = hashlib.sha1(repo_id.encode()).hexdigest()
    (folder / "refs").mkdir(parents=True, exist_ok=True)
    (folder / "refs" / "main").write_text(commit)
    build(folder / "snapshots" / commit / filename)


@pytest.fixture(scope="module")
def hub_cache(tmp_path_factory):
    from huggingface_hub import constants

    cache = tmp_path_factory.mktemp("hub-cache")
    put_in_hub_cache(cache, STYLE, "style.safetensors", lambda path: hub_lora.wan_lora(path, seed=1))
    put_in_hub_cache(cache, STYLE, "second.safetensors", lambda path: hub_lora.wan_lora(path, seed=2))
    put_in_hub_cache(cache, OTHER, "pytorch_lora_weights.safetensors", lambda path: hub_lora.wan_lora(path, width=1536))
    put_in_hub_cache(cache, STYLE, "deep.safetensors", lambda path: hub_lora.wan_lora(path, blocks=4, seed=3))
    original = constants.HF_HUB_CACHE
    constants.HF_HUB_CACHE = str(cache)
    yield cache
    constants.HF_HUB_CACHE = original


def frames(**extra):
    return t2v.run(t2v.Request(prompt="a lighthouse", seed=3, num_frames=5, steps=2, **extra)).frames


@pytest.mark.parametrize("text, parsed", [
    ("", ()),
    (f"{STYLE}", (user_loras.UserLora(STYLE, "", 1.0),)),
    (f"{STYLE}, style.safetensors, 0.7\n\n{STYLE}, 0.5", (user_loras.UserLora(STYLE, "style.safetensors", 0.7),
                                                         user_loras.UserLora(STYLE, "", 0.5))),
])
def test_the_field_parses_repo_file_and_strength(text, parsed):
    assert user_loras.parse(text) == parsed
    assert user_loras.parse(user_loras.as_text(parsed)) == parsed  # what settings keep reads back the same


@pytest.mark.parametrize("text, words", [
    ("not a repo", "is not a Hub repo id"),
    ("../etc/passwd", "is not a Hub repo id"),
    (f"{STYLE}, ../../secret.safetensors", "not a .safetensors file name"),
    (f"{STYLE}, weights.bin", "Only .safetensors"),
    (f"{STYLE}, 7", "between -2 and 2"),
    ("\n".join([STYLE] * 5), "at most 4"),
])
def test_bad_lora_lines_name_what_to_fix(text, words):
    with pytest.raises(ValueError, match=words):
        t2v.plan(t2v.Request(prompt="x", hub_loras=text))


def test_a_lora_changes_the_video_and_is_gone_for_the_next_request(hub_cache, monkeypatch):
    base = frames()
    pipe = runtime.pipeline(presets.get("text_to_video", None))
    asked = []
    original = pipe.set_adapters
    monkeypatch.setattr(pipe, "set_adapters", lambda names, weights=None: (asked.append((list(names), weights)),
                                                                           original(names, weights))[1])
    styled = frames(hub_loras=f"{STYLE}, style.safetensors, 0.7")
    assert asked == [(["hub_lora_0"], [0.7])]
    assert not np.array_equal(styled, base)
    assert not any(pipe.get_list_adapters().values())  # unloaded
    assert np.array_equal(frames(), base)  # the next visitor gets the base model exactly


def test_several_loras_stack_with_their_own_strengths(hub_cache, monkeypatch):
    pipe = runtime.pipeline(presets.get("text_to_video", None))
    asked = []
    original = pipe.set_adapters
    monkeypatch.setattr(pipe, "set_adapters", lambda names, weights=None: (asked.append((list(names), weights)),
                                                                           original(names, weights))[1])
    result = t2v.run(t2v.Request(prompt="a lighthouse", num_frames=5, steps=2,
                                 hub_loras=f"{STYLE}, style.safetensors, 0.7\n{STYLE}, second.safetensors, -0.5"))
    assert asked == [(["hub_lora_0", "hub_lora_1"], [0.7, -0.5])]
    assert result.settings["hub_loras"] == f"{STYLE}, style.safetensors, 0.7\n{STYLE}, second.safetensors, -0.5"


def test_a_lora_for_another_base_model_is_refused_before_the_gpu_window(hub_cache):
    t2v.run(t2v.Request(prompt="warm up", num_frames=5, steps=1))
    calls = runtime.STATS.calls
    with pytest.raises(ValueError) as refused:
        t2v.run(t2v.Request(prompt="x", num_frames=5, hub_loras=f"{OTHER}, pytorch_lora_weights.safetensors"))
    message = str(refused.value)
    assert "Wan 2.1 1.3B" in message and "Wan 2.2 TI2V 5B" in message  # the LoRA's model and the chosen one
    assert runtime.STATS.calls == calls
    pipe = runtime.pipeline(presets.get("text_to_video", None))
    assert not any(pipe.get_list_adapters().values())


def test_layers_the_model_does_not_have_are_an_error(hub_cache):
    calls = runtime.STATS.calls
    with pytest.raises(ValueError, match=r"don't fit \(e\.g\. blocks\.2"):
        t2v.run(t2v.Request(prompt="x", num_frames=5, hub_loras=f"{STYLE}, deep.safetensors"))
    assert runtime.STATS.calls == calls


def test_the_field_is_a_public_parameter_that_remix_refills_from_the_settings():
    # The library refills a tab by matching settings keys to the handler's parameter names.
    assert "hub_loras" in w.api_parameters(t2v_tab.text_to_video)
    settings = t2v.plan(t2v.Request(prompt="x", hub_loras=f"{STYLE},style.safetensors,0.70")).settings()
    assert settings["hub_loras"] == f"{STYLE}, style.safetensors, 0.7"
