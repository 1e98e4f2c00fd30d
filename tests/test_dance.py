"""Pose-driven dance on tiny models: the pipeline, its pre-processing paths, its checks, and the /dance endpoint."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError

from pipelines import dance, media, presets, runtime
from tests import factory
from tests.conftest import ROOT
from tests.video_checks import probe

DEFAULT = presets.get("dance", "wan2.2-animate-14b")  # Animate 1: pose extraction, face crops, replace mode
SKELETON_CLIP = ROOT / "assets" / "examples" / "dance" / "side_step.mp4"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dance-media")
    return {
        "character": factory.image(folder / "character.png", 64, 96, seed=1),      # portrait
        "dance": factory.video(folder / "dance.mp4", seconds=1.5, fps=30, width=96, height=64, audio=True),
        "text": factory.not_media(folder / "notes.txt"),
    }


def _run_spy(monkeypatch, change):
    """Wrap every onnxruntime session run: `change(kind, outputs)` sees (and may replace) what each model gave."""
    from onnxruntime import InferenceSession

    real = InferenceSession.run

    def run(self, output_names, feed, *args, **kwargs):
        kind = "detector" if self.get_inputs()[0].name == "images" else "pose"
        return change(kind, real(self, output_names, feed, *args, **kwargs))

    monkeypatch.setattr(InferenceSession, "run", run)


@pytest.fixture
def model_calls(monkeypatch):
    """Counts runs of the person detector and the whole-body pose model (any session, however often reloaded)."""
    calls = {"detector": 0, "pose": 0}

    def count(kind, outputs):
        calls[kind] += 1
        return outputs

    _run_spy(monkeypatch, count)
    return calls


def nobody_after(monkeypatch, allowed: int) -> None:
    """Patch the pose model's output (not its code path): after `allowed` frames every heatmap is flat zero,
    so no keypoint is seen and nobody is found (with nobody detected, the official code reads the whole frame)."""
    seen = {"pose": 0}

    def flatten(kind, outputs):
        if kind == "pose":
            seen["pose"] += 1
            if seen["pose"] > allowed:
                return [np.zeros_like(outputs[0])]
        return outputs

    _run_spy(monkeypatch, flatten)


def test_segments_are_generated_in_turn_with_progress_for_each(files, model_calls):
    seen = []
    runtime.STATS.reset()
    result = dance.run(dance.Request(files["character"], files["dance"], preset=DEFAULT.key, seed=2),
                       progress=seen.append)
    # Three GPU windows (the character's pose, the dancer's poses, the denoising) and no loading in any of them.
    assert runtime.STATS.calls == 3 and runtime.STATS.violations == []
    frames = round(1.5 * DEFAULT.defaults.fps)  # 12 frames: two segments of 9 sharing one frame
    assert result.frames.shape[0] == frames and result.settings["segments"] == 2
    assert [str(s) for s in seen] == ["segment 1/2, step 1/2", "segment 1/2, step 2/2",
                                      "segment 2/2, step 1/2", "segment 2/2, step 2/2"]
    assert [s.done for s in seen] == [1, 2, 3, 4] and {s.total for s in seen} == {4}
    height, width = result.frames.shape[1:3]
    assert height > width  # animation mode keeps the portrait character's framing
    assert result.previews["skeleton"].shape == result.frames.shape
    assert model_calls["detector"] > 0 and model_calls["pose"] > 0
    assert result.settings["pose_source"] == dance.POSE_SOURCE and result.settings["retarget_scale"] > 0


def test_endpoint_returns_the_dance_at_the_clip_length_and_the_skeleton_it_followed(client, files):
    video, skeleton, info, seed = client.predict(
        character_image=handle_file(files["character"]), dance_video=handle_file(files["dance"]),
        prompt="a robot dancing", preset=DEFAULT.key, seed=7, api_name="/dance")
    facts = probe(video)
    assert len(facts.frames) == round(1.5 * DEFAULT.defaults.fps) and facts.fps == DEFAULT.defaults.fps
    assert (facts.codec, facts.pix_fmt) == ("h264", "yuv420p")
    assert abs(facts.audio_seconds - 1.5) < 0.15  # the dance's music comes along
    bones = probe(skeleton)
    assert bones.frames.shape == facts.frames.shape and bones.fps == facts.fps
    assert bones.frames.max() > 0  # a skeleton was drawn
    meta = media.read_metadata(video)  # the info line links to this very result, made with this seed
    assert seed == 7 and meta["settings"]["seed"] == 7 and f"/r/{meta['id']}" in info


def test_an_uploaded_skeleton_skips_pose_extraction_and_the_seed_reproduces_it(files, model_calls):
    request = dance.Request(files["character"], SKELETON_CLIP, dance_is_skeleton=True, max_seconds=1.0, seed=5,
                            preset=DEFAULT.key)
    result = dance.run(request)
    assert model_calls == {"detector": 0, "pose": 0}
    assert len(result.frames) == DEFAULT.defaults.fps  # one second of the clip
    # The model followed the uploaded skeleton itself, fitted into the character's framing.
    height, width = result.frames.shape[1:3]
    uploaded = media.read_video(SKELETON_CLIP, fps=DEFAULT.defaults.fps, max_seconds=1.0).frames
    assert np.array_equal(result.previews["skeleton"], dance.letterbox(uploaded, width, height))
    assert np.array_equal(dance.run(request).frames, result.frames)
    assert not np.array_equal(dance.run(replace(request, seed=6)).frames, result.frames)


def test_replacement_mode_keeps_the_dance_video_framing_and_clears_the_dancer(files, monkeypatch):
    prepared = []
    real_prepare = dance.prepare
    monkeypatch.setattr(dance, "prepare", lambda *args, **kwargs: prepared.append(real_prepare(*args, **kwargs))
                        or prepared[-1])
    result = dance.run(dance.Request(files["character"], files["dance"], preset=DEFAULT.key, mode="replace", seed=1))
    inputs = prepared[0]
    assert inputs.width > inputs.height  # the landscape dance video's framing, not the portrait character's
    assert result.frames.shape[1:3] == (inputs.height, inputs.width)
    assert inputs.mask.shape == inputs.background.shape[:3] and set(np.unique(inputs.mask)) <= {0, 255}
    assert (inputs.mask > 0).any()
    assert inputs.background[inputs.mask > 0].max() == 0  # the dancer's place is cleared for the character
    assert result.settings["retarget_scale"] is None  # replacement keeps the dancer's own size and place


def test_vace_makes_one_clip_of_4k_plus_1_frames(files):
    result = dance.run(dance.Request(files["character"], files["dance"], preset="wan2.1-vace-1.3b", seed=3))
    vace = presets.get("dance", "wan2.1-vace-1.3b")
    assert len(result.frames) == 9 and result.fps == vace.defaults.fps and result.settings["segments"] == 1


def test_no_person_in_the_character_image_is_a_clear_error(files, monkeypatch):
    """The detector's output is patched to score nobody (random tiny weights cannot be asked to miss a person)."""
    nobody_after(monkeypatch, allowed=0)
    with pytest.raises(ValueError, match="No person was found in the character image 'character.png'"):
        dance.run(dance.Request(files["character"], files["dance"], preset=DEFAULT.key))


def test_no_person_in_the_dance_video_is_a_clear_error(files, monkeypatch):
    """The detector's output is patched: the character image (first call) is seen, the video's frames are not."""
    nobody_after(monkeypatch, allowed=1)
    with pytest.raises(ValueError, match=r"No person was found in the dance video 'dance.mp4' \(12 frames"):
        dance.run(dance.Request(files["character"], files["dance"], preset=DEFAULT.key))


@pytest.mark.parametrize("swap, words", [
    ("character", "character image file 'notes.txt' is not a readable image"),
    ("dance", "dance video file 'notes.txt' could not be opened as a video"),
])
def test_wrong_file_types_are_clear_errors(files, swap, words):
    given = {"character": files["character"], "dance": files["dance"], swap: files["text"]}
    with pytest.raises(ValueError, match=words):
        dance.run(dance.Request(given["character"], given["dance"], preset=DEFAULT.key))


@pytest.mark.parametrize("request_, words", [
    (dict(mode="moonwalk"), "Unknown mode 'moonwalk'"),
    (dict(mode="replace", dance_is_skeleton=True), "Replacement mode needs the original dance video"),
    (dict(mode="replace", preset="wan2.1-vace-1.3b"), "has no replacement mode"),
    (dict(max_seconds=600), "600 s were asked for"),
    (dict(max_seconds="long"), "max_seconds must be a number"),
    (dict(steps=0), "Steps must be between 1"),
    (dict(preset="sora"), "Unknown model preset 'sora'"),
    (dict(prompt="x" * 5000), "5000 characters"),
])
def test_bad_settings_name_the_value_to_change(request_, words):
    with pytest.raises(ValueError, match=words):
        dance.plan(dance.Request("a.png", "b.mp4", **{"preset": DEFAULT.key, **request_}))


def test_endpoint_wrong_file_type_is_a_clear_error(client, files):
    with pytest.raises(AppError, match="could not be opened as a video"):
        client.predict(character_image=handle_file(files["character"]),
                       dance_video=handle_file(files["text"]), api_name="/dance")


def test_pose_models_run_only_inside_their_own_gpu_window(files, monkeypatch):
    """Every detector and pose-model run happens inside a GPU window that is not the denoising one, and the
    window asks ZeroGPU for time by the clip's length (10 s at 30 fps: 10 + 0.04 x 300 = 22 s)."""
    from pipelines import wholebody

    inside = []
    _run_spy(monkeypatch, lambda kind, outputs: inside.append(runtime.inside_gpu_window()) or outputs)
    models = dance._pose_models()  # loaded (outside any window) before counting
    runtime.STATS.reset()
    frames = np.zeros((3, 48, 64, 3), np.uint8)
    dance.pose.extract(models, frames)
    assert inside and all(inside) and runtime.STATS.calls == 1
    assert wholebody._extract_seconds(models, np.zeros((300, 1, 1, 3))) == pytest.approx(22.0)


def test_replacement_runs_with_the_relighting_lora_and_animation_without(files, monkeypatch):
    """The spy reads the transformer's LoRA layers at the moment the pipeline is called."""
    from diffusers import WanAnimatePipeline

    seen = []
    real = WanAnimatePipeline.__call__

    def spy(self, *args, **kwargs):
        layers = [m for m in self.transformer.modules() if hasattr(m, "lora_A") and dance.RELIGHTING in m.lora_A]
        active = bool(layers) and all(not m.disable_adapters and dance.RELIGHTING in m.active_adapters
                                      for m in layers)
        seen.append((kwargs["mode"], len(layers), active))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(WanAnimatePipeline, "__call__", spy)
    replaced = dance.run(dance.Request(files["character"], files["dance"], preset=DEFAULT.key, mode="replace", max_seconds=1.0))
    animated = dance.run(dance.Request(files["character"], files["dance"], preset=DEFAULT.key, mode="animate", max_seconds=1.0))
    # Every Linear of both tiny blocks (self and cross attention q, k, v, o; the two feed-forward layers).
    assert seen == [("replace", 20, True), ("animate", 20, False)]
    assert replaced.settings["relighting_lora"] is True and animated.settings["relighting_lora"] is False


def test_the_real_preset_asks_for_the_official_relighting_lora(monkeypatch):
    fetched = []
    monkeypatch.setattr(runtime, "fetch_file", lambda repo, name: fetched.append((repo, name)))
    real = presets._load("dance", False)["wan2.2-animate-14b"]
    dance.relighting_file(replace(dance.plan(dance.Request("a.png", "b.mp4", preset=DEFAULT.key, mode="replace")), preset=real))
    assert fetched == [("Wan-AI/Wan2.2-Animate-14B", "relighting_lora.ckpt")]
