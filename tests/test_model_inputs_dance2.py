"""What the dance tab's default model, Wan-Animate-2 distilled (a diffusers modular pipeline), is given.

The modular pipeline splits the driving video into segments itself, so besides the call's arguments the spy
reads its final state and, per segment, what the loop blocks gave the VAE and the transformer: the driving slice,
the previous segment's last frame it continues from, the denoising passes and the text they saw.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from pipelines import dance, media, presets
from tabs import dance as dance_tab
from tests import factory
from tests.spies import outcome, pixels
from tests.test_model_inputs import assert_signed_with_inputs, frame_of, saved_record

DEFAULT = presets.get(dance.TASK, None)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("dance2-inputs")
    return {
        "character": factory.image(root / "character.png", 64, 96, seed=4),
        "other_character": factory.image(root / "other.png", 64, 96, seed=9),
        # 1.5 s at 30 fps, landscape: 12 frames at the tiny preset's 8 fps, letterboxed into a portrait frame
        "dance": factory.video(root / "dance.mp4", seconds=1.5, fps=30, width=96, height=64, audio=True),
    }


def driving_frames(path, seconds: float | None = None) -> np.ndarray:
    """The dance video's frames as the model should get them: at the preset's fps, at most `seconds` long."""
    p = dance.plan(dance.Request("", "", max_seconds=seconds))
    return dance.read_dance(p, path).frames


def unit(frames: np.ndarray) -> np.ndarray:
    return frames.astype(np.float32) / 127.5 - 1.0


def test_the_default_dance_model_is_the_modular_animate_2():
    assert DEFAULT.pipeline_class == "WanAnimate2DistilledModularPipeline"
    assert dance_tab.DEFAULT.key == DEFAULT.key


def test_animate_2_gets_the_character_the_dance_the_prompts_and_continues_each_segment(pipeline_spy, files):
    video, preview, info, seed = outcome(dance_tab.dance(
        character_image=str(files["character"]), dance_video=str(files["dance"]), prompt="a robot dancing",
        negative_prompt="extra limbs", seed=2))
    call = pipeline_spy.last
    assert call.pipeline == DEFAULT.pipeline_class and len(pipeline_spy.calls) == 1
    assert call["prompt"] == "a robot dancing" and call["negative_prompt"] == "extra limbs"
    assert call.seed() == seed == 2
    assert np.array_equal(pixels(call["image"]), frame_of(files["character"]))

    # The driving video: every frame of the dance, read at the model's fps (no second resampling in the model).
    expected = driving_frames(files["dance"])
    assert len(expected) == round(1.5 * DEFAULT.defaults.fps) == 12
    assert np.array_equal(pixels(call["driving_video"]), expected)
    assert call["driving_video_fps"] is None and call["fps"] == DEFAULT.defaults.fps
    # The preset's area, and the official segment length and overlap (diffusers wan_animate_2 docs).
    assert (call["height"], call["width"]) == (DEFAULT.defaults.height, DEFAULT.defaults.width)
    assert call["segment_frame_length"] == DEFAULT.call["segment_frame_length"] == 9
    assert call["prev_segment_conditioning_frames"] == DEFAULT.call["prev_segment_conditioning_frames"] == 1
    assert call["num_inference_steps"] == DEFAULT.defaults.steps and call.guidance_scale == 1.0

    # Fitted into the character's portrait frame: the landscape dance letterboxed (black bars above and below).
    state = call.state
    height, width = state["height"], state["width"]
    assert height > width and state["driving_video_pixels"].shape[-2:] == (height, width)
    fitted = np.moveaxis(state["driving_video_pixels"][0].float().numpy(), 0, -1)
    real = state["real_frame_len"]
    assert real == len(expected)
    bar = (height - 64 * width // 96) // 2  # the 96x64 dance scaled to the frame's width
    assert bar > 0
    assert np.all(fitted[:, :bar] == -1) and np.all(fitted[:, height - bar:] == -1)
    ours = unit(dance.letterbox(expected, width, height))
    assert np.abs(fitted[:real] - ours).mean() < 0.05 and fitted[:real, bar:height - bar].std() > 0.1

    # Segments: each one encodes its own slice of exactly segment_frame_length frames, overlapping by one frame.
    length, overlap = call["segment_frame_length"], call["prev_segment_conditioning_frames"]
    segments = call.segments
    assert len(segments) == state["num_segments"] == saved_record(video).settings["segments"] == 2
    for k, segment in enumerate(segments):
        start = k * (length - overlap)
        assert segment.driving.shape[0] == length
        assert np.array_equal(segment.driving, fitted[start:start + length])
        assert segment.passes == {"extract": 1, "cached": DEFAULT.defaults.steps}  # reference pass + steps
        for text in segment.text:  # every denoising pass sees the prompt's embedding
            assert np.array_equal(text, state["prompt_embeds"][0].float().numpy())
    # The first segment starts from nothing; each later one from the end of the previous segment's output.
    assert np.all(segments[0].conditioning == 0)
    for before, after in zip(segments, segments[1:]):
        assert np.abs(before.decoded[-overlap:]).max() > 0
        assert np.allclose(after.conditioning[:overlap], before.decoded[-overlap:], atol=1e-4)
        assert np.all(after.conditioning[overlap:] == 0)

    # The saved dance is the model's output (real frames only, the padding trimmed) with what it followed.
    assert len(call.frames[0]) == real == saved_record(video).settings["num_frames"]
    assert saved_record(video).settings["preset"] == DEFAULT.key
    assert_signed_with_inputs(video, {"character_image": files["character"], "dance_video": files["dance"]})


def test_animate_2_inputs_follow_the_settings_that_should_change_them(pipeline_spy, files):
    outcome(dance_tab.dance(character_image=str(files["other_character"]), dance_video=str(files["dance"]),
                            prompt="a knight", negative_prompt="blurry", seed=5, max_seconds=1.0, steps=3,
                            guidance_scale=2.0))
    call = pipeline_spy.last
    assert call["prompt"] == "a knight" and call["negative_prompt"] == "blurry" and call.seed() == 5
    assert np.array_equal(pixels(call["image"]), frame_of(files["other_character"]))
    # 1 s of the dance: its first 8 frames, one segment.
    first = driving_frames(files["dance"], 1.0)
    assert len(first) == 8 and np.array_equal(pixels(call["driving_video"]), first)
    assert len(call.segments) == 1 and np.all(call.segments[0].conditioning == 0)
    # Three steps with guidance on: a conditional and an unconditional pass per step, the latter on the
    # negative prompt.
    assert call["num_inference_steps"] == 3 and call.guidance_scale == 2.0
    segment = call.segments[0]
    assert segment.passes == {"extract": 1, "cached": 6}
    positive, negative = (call.state[name][0].float().numpy() for name in ("prompt_embeds", "negative_prompt_embeds"))
    assert not np.array_equal(positive, negative)
    assert sum(np.array_equal(t, negative) for t in segment.text) == 3
    assert sum(np.array_equal(t, positive) for t in segment.text) == 3


def test_randomize_seed_gives_animate_2_a_new_seed(pipeline_spy, files):
    *_, seed = outcome(dance_tab.dance(character_image=str(files["character"]), dance_video=str(files["dance"]),
                                       seed=7, randomize_seed=True, max_seconds=1.0))
    assert seed != 7 and pipeline_spy.last.seed() == seed


def test_the_dance_endpoint_gives_animate_2_the_uploads_and_the_prompts(pipeline_spy, client, files):
    from gradio_client import handle_file

    video, preview, info, seed = client.predict(
        character_image=handle_file(str(files["character"])), dance_video=handle_file(str(files["dance"])),
        prompt="a robot dancing", negative_prompt="extra limbs", seed=3, max_seconds=1.0, api_name="/dance")
    call = pipeline_spy.last
    assert call.pipeline == DEFAULT.pipeline_class
    assert call["prompt"] == "a robot dancing" and call["negative_prompt"] == "extra limbs" and call.seed() == 3
    assert np.array_equal(pixels(call["image"]), frame_of(files["character"]))
    assert np.array_equal(pixels(call["driving_video"]), driving_frames(files["dance"], 1.0))
    assert media.read_metadata(video)["settings"]["seed"] == seed == 3
