"""Bad inputs on every endpoint, through the public API: each one is refused with a message that says what
to change, and the server keeps answering valid requests afterwards."""

from __future__ import annotations

import struct
import zlib

import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from pipelines import media
from tests import factory
from tests.conftest import server_paths_in
from tests.video_checks import probe

LONG_TEXT = "a fox " * 2000  # 12 000 characters, past every prompt and text limit


def huge_png(path, width: int = 50000, height: int = 50000):
    """A valid 1x1 PNG whose header claims `width`x`height`: tiny on disk, enormous once decoded."""
    Image.new("RGB", (1, 1)).save(path)
    data = bytearray(path.read_bytes())
    header = b"IHDR" + struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:24] = header[4:12]
    data[29:33] = struct.pack(">I", zlib.crc32(header))
    path.write_bytes(bytes(data))
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad")
    image = factory.image(folder / "image.png", 64, 64)
    video = factory.video(folder / "video.mp4", seconds=1.0, fps=8, width=64, height=64)
    empty = folder / "empty.mp4"
    empty.write_bytes(b"")
    return {
        "image": image,
        "video": video,
        "text_png": factory.not_media(folder / "text.png"),
        "text_mp4": factory.not_media(folder / "text.mp4"),
        "text_wav": factory.not_media(folder / "text.wav"),
        "cut_png": factory.truncated(image, folder / "cut.png"),
        "cut_mp4": factory.truncated(video, folder / "cut.mp4", keep=0.2),
        "huge_png": huge_png(folder / "huge.png"),  # PIL refuses it as a decompression bomb
        "big_png": huge_png(folder / "big.png", 6000, 6000),  # under PIL's limit, over the app's
        "empty_mp4": empty,
        "sound_only": media.write_wav(folder / "sound.mkv", factory.tone(1.0), media.SPEECH_RATE),
        "face": factory.face(folder / "face.png"),
        "landscape": factory.image(folder / "noise.png", 128, 96),
        "speech": factory.wav(folder / "speech.wav", 1.0),
        "silent": factory.wav(folder / "silent.wav", 1.0, silent=True),
    }


def call(client, files, api_name, kwargs):
    """Files are named by their key in `files` and sent as uploads."""
    sent = {k: handle_file(str(files[v])) if isinstance(v, str) and v in files and k not in ("prompt", "text")
            else v for k, v in kwargs.items()}
    return client.predict(**sent, api_name=api_name)


T2V = dict(prompt="a cat", num_frames=5)
I2V = dict(image="image", prompt="a cat", num_frames=5)
STYLE = dict(video="video", prompt="a watercolor painting", max_seconds=1.0)
DANCE = dict(character_image="image", dance_video="video")
LIPS = dict(portrait="face", audio="speech", consent=True)

CASES = [
    # text to video: prompt, length, sampling, seed, choices
    ("/text_to_video", {**T2V, "prompt": ""}, "prompt is empty"),
    ("/text_to_video", {**T2V, "prompt": "   \n "}, "prompt is empty"),
    ("/text_to_video", {**T2V, "prompt": LONG_TEXT}, "characters; the limit is"),
    ("/text_to_video", {**T2V, "negative_prompt": LONG_TEXT}, "characters; the limit is"),
    ("/text_to_video", {**T2V, "num_frames": 999}, "999 were asked for"),
    ("/text_to_video", {**T2V, "num_frames": 0}, "0 were asked for"),
    ("/text_to_video", {**T2V, "steps": 0}, "Steps must be between 1 and"),
    ("/text_to_video", {**T2V, "steps": 100000}, "Steps must be between 1 and"),
    ("/text_to_video", {**T2V, "guidance_scale": -1.0}, "Guidance must be between 0 and 20"),
    ("/text_to_video", {**T2V, "guidance_scale": 500.0}, "Guidance must be between 0 and 20"),
    ("/text_to_video", {**T2V, "seed": -5}, "Value -5 is less than minimum value 0"),
    ("/text_to_video", {**T2V, "seed": 2**40}, "is greater than maximum value 4294967295"),
    ("/text_to_video", {**T2V, "preset": "no-such-model"}, "Unknown model preset"),
    ("/text_to_video", {**T2V, "aspect": "2:1"}, "'2:1'.*is not in the list of choices: .*'16:9'"),
    ("/text_to_video", {**T2V, "cache": "turbo"}, "'turbo'.*is not in the list of choices: .*'off'"),
    # image to video: missing, wrong type, corrupt and huge pictures, bad choices
    ("/image_to_video", {**I2V, "image": None}, "Add a first frame"),
    ("/image_to_video", {**I2V, "image": "text_png"}, "not a readable image.*Use a PNG, JPEG or WebP"),
    ("/image_to_video", {**I2V, "image": "cut_png"}, "not a readable image.*Use a PNG, JPEG or WebP"),
    ("/image_to_video", {**I2V, "image": "huge_png"}, "far larger than the limit of 4096 px"),
    ("/image_to_video", {**I2V, "image": "big_png"}, "6000x6000 px; the limit is 4096 px"),
    ("/image_to_video", {**I2V, "last_image": "text_png"}, "not a readable image"),
    ("/image_to_video", {**I2V, "fit": "stretch"}, "'stretch'.*is not in the list of choices: .*'crop'"),
    ("/image_to_video", {**I2V, "num_frames": 999}, "999 were asked for"),
    ("/image_to_video", {**I2V, "preset": "no-such-model"}, "Unknown model preset"),
    # stylize video: wrong type, empty, corrupt, no picture, bad choices and ranges
    ("/stylize_video", {**STYLE, "video": "text_mp4"}, "could not be opened as a video.*Use an MP4"),
    ("/stylize_video", {**STYLE, "video": "empty_mp4"}, "could not be opened as a video|has no frames"),
    ("/stylize_video", {**STYLE, "video": "cut_mp4"}, "damaged or cut short|corrupt|could not be"),
    ("/stylize_video", {**STYLE, "video": "sound_only"}, "has no video stream"),
    ("/stylize_video", {**STYLE, "video": None}, "No video was given"),
    ("/stylize_video", {**STYLE, "prompt": ""}, "prompt is empty"),
    ("/stylize_video", {**STYLE, "control": "sketch"}, "'sketch'.*is not in the list of choices: .*'depth'"),
    ("/stylize_video", {**STYLE, "start": 30.0}, "past the end of the video"),
    ("/stylize_video", {**STYLE, "start": -2.0}, "Value -2.0 is less than minimum value 0"),
    ("/stylize_video", {**STYLE, "max_seconds": 9999.0}, "max_seconds must be between 0"),
    ("/stylize_video", {**STYLE, "style_image": "big_png"}, "style image is 6000x6000 px; the limit is 4096 px"),
    ("/stylize_video", {**STYLE, "style_image": "text_png"}, "not a readable image"),
    # dance: broken uploads, unknown mode, impossible length
    ("/dance", {**DANCE, "character_image": "text_png"}, "not a readable image"),
    ("/dance", {**DANCE, "character_image": "big_png"}, "character image is 6000x6000 px; the limit is 4096 px"),
    ("/dance", {**DANCE, "character_image": "huge_png"}, "far larger than the limit of 4096 px"),
    ("/dance", {**DANCE, "dance_video": "text_mp4"}, "could not be opened as a video"),
    ("/dance", {**DANCE, "dance_video": None}, "No dance video was given"),
    ("/dance", {**DANCE, "mode": "swim"}, "'swim'.*is not in the list of choices: .*'animate'"),
    ("/dance", {**DANCE, "max_seconds": -3.0}, "s of dance; -3 s were asked for"),
    ("/dance", {**DANCE, "preset": "no-such-model"}, "Unknown model preset"),
    # lip sync: consent, no face, no/silent/wrong speech, too much text, broken portrait
    ("/lip_sync", {**LIPS, "consent": False}, "Tick the consent box"),
    ("/lip_sync", {**LIPS, "portrait": "landscape"}, "No face found"),
    ("/lip_sync", {**LIPS, "portrait": None}, "Add a portrait"),
    ("/lip_sync", {**LIPS, "audio": None}, "Give the speech"),
    ("/lip_sync", {**LIPS, "audio": "silent"}, "is silent"),
    ("/lip_sync", {**LIPS, "audio": "text_wav"}, "could not be read as audio"),
    ("/lip_sync", {**LIPS, "audio": None, "text": LONG_TEXT}, "characters; the limit is 1000"),
    ("/lip_sync", {**LIPS, "portrait": "text_png"}, "not a readable image.*Use a PNG, JPEG or WebP"),
    ("/lip_sync", {**LIPS, "portrait": "big_png"}, "6000x6000 px; the limit is 4096 px"),
]


@pytest.mark.parametrize("api_name, kwargs, words", CASES)
def test_bad_input_is_refused_with_a_clear_message(client, files, api_name, kwargs, words):
    with pytest.raises(AppError, match=words) as refused:
        call(client, files, api_name, kwargs)
    assert server_paths_in(str(refused.value)) == [], f"the message shows a server path: {refused.value}"


def test_server_still_serves_after_bad_inputs(client, files):
    """Runs after every refusal above: a valid request still gets its video."""
    video, _, seed = client.predict(prompt="a cat", num_frames=5, seed=3, api_name="/text_to_video")
    assert seed == 3 and len(probe(video).frames) == 5
