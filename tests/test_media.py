"""Reading what visitors upload and writing what they download: the cases the tab tests do not reach."""

from __future__ import annotations

import wave

import numpy as np
import pytest

from pipelines import media


def test_stereo_speech_becomes_one_mono_track_of_the_same_length(tmp_path):
    seconds, rate = 1.5, 44_100
    t = np.arange(int(seconds * rate)) / rate
    left, right = 0.5 * np.sin(2 * np.pi * 220 * t), np.zeros_like(t)
    path = tmp_path / "stereo.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((np.stack([left, right], axis=1) * 32767).astype("<i2").tobytes())
    samples = media.read_audio(path)
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert abs(len(samples) - seconds * media.SPEECH_RATE) < 0.01 * media.SPEECH_RATE  # not two channels in a row
    assert 0.1 < np.abs(samples).max() < 0.5  # the left channel's tone, mixed down


def test_a_palette_picture_with_a_transparent_colour_is_flattened_onto_white(tmp_path):
    from PIL import Image

    picture = Image.new("P", (64, 48), 0)
    picture.putpalette([0, 0, 0, 200, 30, 30] + [0] * (256 - 2) * 3)
    picture.paste(1, (0, 0, 32, 48))  # left half red, right half the transparent colour (black in the palette)
    path = tmp_path / "logo.png"
    picture.save(path, transparency=0)
    image = np.asarray(media.read_image(path))
    assert image.shape == (48, 64, 3)
    assert tuple(image[10, 50]) == (255, 255, 255) and tuple(image[10, 10]) == (200, 30, 30)


def test_sound_from_a_gpu_vocoder_in_bfloat16_becomes_mono_float32():
    import torch

    waveform = torch.stack([torch.full((1, 800), 0.5), torch.full((1, 800), -0.25)], dim=1).to(torch.bfloat16)
    mono = media.to_mono(waveform)  # (batch, channels, samples), as LTX-2's vocoder returns it
    assert mono.dtype == np.float32 and mono.shape == (800,)
    assert np.allclose(mono, 0.125)


def test_a_failed_encode_says_why_in_ffmpegs_words(tmp_path):
    frames = np.zeros((3, 16, 16, 3), np.uint8)
    with pytest.raises(RuntimeError, match="ffmpeg failed to encode 3 frames: .*No such file or directory"):
        media.write_mp4(tmp_path / "missing-folder" / "out.mp4", frames, 8)
