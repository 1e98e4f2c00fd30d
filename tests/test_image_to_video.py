"""Image to video on tiny models: fitting the frames, the conditioning the models get, the distill LoRA, the
checks on bad pictures, and the public /image_to_video endpoint."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from pipelines import image_to_video as i2v
from pipelines import presets, runtime, tiny
from tests import factory
from tests.video_checks import probe

TASK = "image_to_video"
PRESETS = list(presets.presets(TASK))
RULES = {key: i2v.frame_rules(presets.get(TASK, key)).last_frame for key in PRESETS}
WITH_LAST_FRAME = [key for key, rule in RULES.items() if rule != "none"]


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    """A landscape and a portrait first frame, a square last frame, and broken files."""
    folder = tmp_path_factory.mktemp("pictures")
    landscape = factory.image(folder / "landscape.png", 1000, 600, seed=1)
    return {
        "landscape": landscape,
        "portrait": factory.image(folder / "portrait.jpg", 600, 1000, seed=2),
        "last": factory.image(folder / "last.webp", 700, 700, seed=3),
        "other_last": factory.image(folder / "other_last.png", 500, 500, seed=4),
        "tiny": factory.image(folder / "tiny.png", 16, 16, seed=5),
        "text": factory.not_media(folder / "notes.png"),
        "corrupt": factory.truncated(landscape, folder / "corrupt.png", keep=0.2),
    }


def frames_for(preset_key: str) -> int:
    """A length other than the default that the preset's VAE accepts (4k+1 for Wan, 8k+1 for LTX-2)."""
    return 3 * presets.get(TASK, preset_key).limits.frame_step + 1


def as_model_input(picture) -> np.ndarray:
    """A fitted PIL frame the way the pipelines normalise it: channels first, in [-1, 1]."""
    return np.asarray(picture, dtype=np.float32).transpose(2, 0, 1) / 127.5 - 1.0


# ---------------------------------------------------------------------------------------------- the pipeline


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_makes_the_requested_length_in_the_first_frames_aspect(preset, pictures):
    p = presets.get(TASK, preset)
    last = pictures["last"] if preset in WITH_LAST_FRAME else None
    count = frames_for(preset)
    result = i2v.run(i2v.Request(image=pictures["landscape"], last_image=last, prompt="a cat", seed=1,
                                 preset=preset, num_frames=count))
    width, height = i2v.output_size(p, 1000, 600)
    assert width > height and width % p.limits.size_multiple == 0 and height % p.limits.size_multiple == 0
    assert result.frames.shape == (count, height, width, 3) and result.frames.dtype == np.uint8
    assert result.fps == p.defaults.fps and result.frames.std() > 0
    assert result.settings["input_frames"]["image"]["size"] == [1000, 600]
    assert ("last_image" in result.settings["input_frames"]) == (last is not None)
    if p.pipeline_class.startswith("LTX2"):  # LTX-2 makes a soundtrack as long as the video
        assert abs(len(result.audio) / result.sample_rate - count / result.fps) < 0.2


@pytest.mark.parametrize("preset", [k for k in WITH_LAST_FRAME if not k.startswith("ltx2")])
def test_wan_gets_the_fitted_last_frame_as_latent_conditioning(preset, pictures, monkeypatch):
    """Spies on prepare_latents (where Wan encodes the frames into the condition latents and the frame mask)."""
    pipe = runtime.pipeline(presets.get(TASK, preset))
    original, seen = pipe.prepare_latents, []

    def spy(*args, **kwargs):
        seen.append(inspect.signature(original).bind(*args, **kwargs).arguments)
        return original(*args, **kwargs)

    monkeypatch.setattr(pipe, "prepare_latents", spy)
    encoded = []
    if pipe.image_encoder is not None:  # Wan 2.1 FLF2V also encodes both frames with CLIP
        hook = pipe.image_encoder.register_forward_pre_hook(
            lambda module, args, kwargs: encoded.append(kwargs["pixel_values"].shape[0]), with_kwargs=True)
    lasts = [pictures["last"]] + ([None] if RULES[preset] == "optional" else [])
    for last in lasts:
        i2v.run(i2v.Request(image=pictures["landscape"], last_image=last, prompt="a cat", preset=preset))
    if pipe.image_encoder is not None:
        hook.remove()
        assert encoded == [2] * len(lasts)  # the CLIP encoder saw both pictures
    frames = i2v.prepare_frames(presets.get(TASK, preset), pictures["landscape"], pictures["last"], "crop")
    np.testing.assert_allclose(seen[0]["last_image"][0].numpy(), as_model_input(frames.last), atol=1e-5)
    np.testing.assert_allclose(seen[0]["image"][0].numpy(), as_model_input(frames.first), atol=1e-5)
    assert all(call["last_image"] is None for call in seen[1:])


def test_ltx2_gets_the_last_frame_as_a_keyframe_at_the_end(pictures, monkeypatch):
    """Spies on preprocess_conditions: the last picture becomes the condition at the last latent frame."""
    preset = presets.get(TASK, "ltx2-keyframes")
    pipe = runtime.pipeline(preset)
    original, seen = pipe.preprocess_conditions, []

    def spy(*args, **kwargs):
        out = original(*args, **kwargs)
        seen.append(out)
        return out

    monkeypatch.setattr(pipe, "preprocess_conditions", spy)
    red, blue = (pictures["landscape"].parent / name for name in ("red.png", "blue.png"))
    Image.new("RGB", (300, 200), (220, 30, 30)).save(red)
    Image.new("RGB", (300, 200), (30, 30, 220)).save(blue)
    count = 17
    i2v.run(i2v.Request(image=red, last_image=blue, prompt="a cat", preset=preset.key, num_frames=count))
    (pixels, _strengths, indices, _pixel_frames), = seen
    latent_frames = (count - 1) // preset.limits.frame_step + 1
    assert indices == [0, latent_frames - 1]
    first_rgb, last_rgb = (p[0, :, 0].float().mean(dim=(1, 2)).numpy() for p in pixels)
    assert first_rgb[0] > 0.5 > first_rgb[2] and last_rgb[2] > 0.5 > last_rgb[0]  # red starts, blue ends


def test_lightning_preset_fuses_its_lora_into_both_experts():
    """The fused weights equal base + (alpha / rank) * up @ down from the LoRA file (original Wan key names, as
    the real Lightning files have), and no adapter layers remain."""
    import torch
    from peft.tuners.tuners_utils import BaseTunerLayer
    from safetensors.torch import load_file

    fast = presets.get(TASK, "wan2.2-i2v-a14b-lightning")
    experts = [lora["into"] for lora in fast.loras]
    assert experts == ["transformer", "transformer_2"]
    pipe = runtime.pipeline(fast)
    fused = {name: getattr(pipe, name).blocks[1].attn2.to_v.weight.detach().clone() for name in experts}
    assert not any(isinstance(m, BaseTunerLayer) for name in experts for m in getattr(pipe, name).modules())
    base = runtime.pipeline(presets.get(TASK, "wan2.2-i2v-a14b"))  # the same tiny weights, no LoRA
    state = load_file(tiny.build(fast.tiny_lora_builder) / "pytorch_lora_weights.safetensors")
    up, down = (state[f"diffusion_model.blocks.1.cross_attn.v.lora_{s}.weight"] for s in ("up", "down"))
    scale = state["diffusion_model.blocks.1.cross_attn.v.alpha"] / down.shape[0]
    for name in experts:
        delta = fused[name] - getattr(base, name).blocks[1].attn2.to_v.weight.detach()
        assert torch.allclose(delta, scale * up @ down, atol=1e-5), name


def test_crop_fills_the_frame_and_pad_keeps_the_whole_picture(tmp_path):
    preset = presets.get(TASK, None)
    white = tmp_path / "white.png"
    Image.new("RGB", (1000, 400), "white").save(white)  # 2.5:1, wider than any output size
    cropped = np.asarray(i2v.prepare_frames(preset, white, white, "crop").first)
    padded = i2v.prepare_frames(preset, white, white, "pad")
    assert cropped.min() == 255  # all picture, edges trimmed
    rows = np.asarray(padded.first).min(axis=(1, 2))
    assert rows[0] == 0 and rows[len(rows) // 2] == 255  # black bars above and below, picture in the middle
    assert padded.last.size == padded.first.size == (padded.width, padded.height)


def test_a_last_frame_of_another_size_is_fitted_to_the_first_frames_size(pictures):
    frames = i2v.prepare_frames(presets.get(TASK, None), pictures["portrait"], pictures["last"], "crop")
    assert frames.height > frames.width
    assert frames.first.size == frames.last.size == (frames.width, frames.height)
    assert frames.sources["last_image"]["size"] == [700, 700]


def test_exif_rotation_and_transparency_are_honoured(tmp_path):
    preset = presets.get(TASK, None)
    rotated = tmp_path / "phone.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown rotated 90 degrees: a portrait photo
    Image.new("RGB", (1000, 600), (200, 120, 40)).save(rotated, exif=exif)
    frames = i2v.prepare_frames(preset, rotated, None, "crop")
    assert frames.height > frames.width
    clear = tmp_path / "clear.png"
    Image.new("RGBA", (600, 600), (0, 0, 0, 0)).save(clear)
    assert np.asarray(i2v.prepare_frames(preset, clear, None, "crop").first).min() == 255  # on white, not black


@pytest.mark.parametrize("kind, extra, words", [
    (None, {}, "Add a first frame"),
    ("text", {}, "not a readable image"),
    ("corrupt", {}, "not a readable image"),
    ("tiny", {}, "16x16 pixels"),
    ("landscape", {"fit": "stretch"}, "Unknown fit 'stretch'"),
    ("landscape", {"last_image": "last", "preset": "wan2.2-ti2v-5b"}, "first frame only"),
    ("landscape", {"preset": "wan2.1-flf2v-14b"}, "add a last frame"),
    ("landscape", {"preset": "ltx2-keyframes", "num_frames": 500}, "500 were asked for"),
    ("landscape", {"prompt": " "}, "prompt is empty"),
])
def test_bad_requests_name_what_to_change(kind, extra, words, pictures):
    fields = {"prompt": "a cat", **extra}
    if "last_image" in fields:
        fields["last_image"] = pictures[fields["last_image"]]
    with pytest.raises(ValueError, match=words):
        i2v.plan(i2v.Request(image=pictures[kind] if kind else None, **fields))


# ---------------------------------------------------------------------------------------------- the endpoint


def _generate(client, first, last=None, seed=5, num_frames=13):
    kwargs = {"last_image": handle_file(str(last))} if last else {}
    video, info, used_seed = client.predict(image=handle_file(str(first)), prompt="the cat blinks", seed=seed,
                                            num_frames=num_frames, api_name="/image_to_video", **kwargs)
    return video, used_seed


def test_endpoint_first_frame_only_and_first_plus_last_give_the_requested_length(client, pictures, monkeypatch):
    """The default preset's cached pipeline is the one the server uses; a spy on prepare_latents shows the
    uploaded last frame (fitted to the first's size) reaching the latent conditioning, and no last frame without."""
    preset = presets.get(TASK, None)
    pipe = runtime.pipeline(preset)
    original, seen = pipe.prepare_latents, []

    def spy(*args, **kwargs):
        seen.append(inspect.signature(original).bind(*args, **kwargs).arguments["last_image"])
        return original(*args, **kwargs)

    monkeypatch.setattr(pipe, "prepare_latents", spy)
    only_first, _ = _generate(client, pictures["landscape"])
    with_last, _ = _generate(client, pictures["landscape"], pictures["last"])
    for video in (only_first, with_last):
        facts = probe(video)
        assert len(facts.frames) == 13 and facts.fps == preset.defaults.fps
        assert (facts.codec, facts.pix_fmt) == ("h264", "yuv420p")
    assert seen[0] is None
    expected = i2v.prepare_frames(preset, pictures["landscape"], pictures["last"], "crop").last
    np.testing.assert_allclose(seen[1][0].numpy(), as_model_input(expected), atol=1e-5)
    assert not np.array_equal(probe(only_first).frames, probe(with_last).frames)


def test_endpoint_video_follows_the_picture_orientation(client, pictures):
    landscape, _ = _generate(client, pictures["landscape"], num_frames=5)
    portrait, _ = _generate(client, pictures["portrait"], num_frames=5)
    _, height, width, _ = probe(landscape).frames.shape
    assert width > height
    _, height, width, _ = probe(portrait).frames.shape
    assert height > width


def test_endpoint_same_seed_same_video_other_seed_other_video(client, pictures):
    first, seed = _generate(client, pictures["portrait"], pictures["other_last"], seed=77, num_frames=5)
    again, _ = _generate(client, pictures["portrait"], pictures["other_last"], seed=77, num_frames=5)
    other, _ = _generate(client, pictures["portrait"], pictures["other_last"], seed=78, num_frames=5)
    assert seed == 77 and first != again
    assert np.array_equal(probe(first).frames, probe(again).frames)
    assert not np.array_equal(probe(first).frames, probe(other).frames)


@pytest.mark.parametrize("kind, words", [
    (None, "Add a first frame"),
    ("text", "not a readable image"),
    ("tiny", "needs at least"),
    ("corrupt", "not a readable image"),
])
def test_endpoint_bad_pictures_are_clear_errors(client, pictures, kind, words):
    image = handle_file(str(pictures[kind])) if kind else None
    with pytest.raises(AppError, match=words):
        client.predict(image=image, prompt="a cat", api_name="/image_to_video")
