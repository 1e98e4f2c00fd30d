"""Frame t of a lip-sync video is made from the speech around time t, cut as MuseTalk cuts it.

The official rule (TMElyralab/MuseTalk musetalk/utils/audio_processor.py, AudioProcessor.get_whisper_chunk):
Whisper gives 50 feature frames a second; the features are trimmed to floor(seconds * 50), padded in front with
ceil(50 / fps) * audio_padding_length_left zero frames, and video frame i (of floor(seconds * fps)) takes the
2 * (left + right + 1) frames starting at floor(i * 50 / fps) of the padded sequence: its own 2 feature frames
with 2 video frames' worth on either side, every Whisper layer of each.

Whisper's attention mixes the whole clip, so the speech itself cannot show which features a frame got. Here
every feature frame the encoder returns is tagged with its index (and its layer), and the UNet spy reads back
which tags each frame's speech context holds.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipelines import lip_sync, media
from tabs import lip_sync as lip_sync_tab
from tests import factory
from tests.spies import outcome

LAYER_TAG = 10_000.0  # tag of feature j in layer l: j + 1 + l * LAYER_TAG (0 is the padding)


@pytest.fixture
def tagged_whisper(monkeypatch):
    """The Whisper encoder's hidden states replaced by tags, their shapes kept."""
    from transformers.models.whisper.modeling_whisper import WhisperEncoder

    real = WhisperEncoder.forward
    calls = []

    def forward(encoder, *args, **kwargs):
        output = real(encoder, *args, **kwargs)
        offset = sum(h.shape[1] for h in calls)  # a later 30 s chunk goes on counting
        first = output.hidden_states[0]
        calls.append(first)
        index = offset + 1 + np.arange(first.shape[1], dtype=np.float32)
        import torch

        output.hidden_states = tuple(
            torch.from_numpy(index + layer * LAYER_TAG)[None, :, None].expand_as(states).to(states)
            for layer, states in enumerate(output.hidden_states))
        return output

    monkeypatch.setattr(WhisperEncoder, "forward", forward)
    return calls


def official_window(frame: int, features: int, fps: int = 25, left: int = 2, right: int = 2) -> list[int]:
    """Feature indices (-1: padding) in frame `frame`'s window, by get_whisper_chunk's arithmetic."""
    multiplier = 50 / fps
    per_frame = 2 * (left + right + 1)
    padded = [-1] * (math.ceil(multiplier) * left) + list(range(features)) + [-1] * (math.ceil(multiplier) * 3 * right)
    start = math.floor(frame * multiplier)
    return padded[start:start + per_frame]


def windows_seen(contexts: np.ndarray, layers: int) -> np.ndarray:
    """(frames, window, layers) tags read back from the UNet's speech contexts (position encoding removed)."""
    frames, tokens, dim = contexts.shape
    plain = contexts - lip_sync._position_encoding(tokens, dim).numpy()[None]
    tags = np.rint(plain.mean(axis=2)).astype(np.int64)  # every channel carries the same tag
    return tags.reshape(frames, tokens // layers, layers)


@pytest.mark.parametrize("seconds", [1.0, 1.3])
def test_each_frame_gets_the_speech_window_centred_on_its_own_time(unet_spy, tagged_whisper, tmp_path, seconds):
    face = tmp_path / "face.png"
    from PIL import Image

    Image.fromarray(factory.face_pixels()).save(face)
    speech = media.write_wav(tmp_path / "speech.wav", factory.tone(seconds), media.SPEECH_RATE)
    outcome(lip_sync_tab.lip_sync(portrait=str(face), audio=str(speech), consent=True, seed=1))

    samples = len(media.read_audio(speech))
    frames = math.floor(samples / media.SPEECH_RATE * 25)  # official: num_frames
    features = math.floor(samples / media.SPEECH_RATE * 50)  # official: actual_length
    contexts = unet_spy.per_frame()
    assert len(contexts) == frames
    tokens = contexts.shape[1]
    assert tokens % 10 == 0, f"{tokens} speech tokens a frame: not 10 feature frames x the Whisper layers"
    layers = tokens // 10
    seen = windows_seen(contexts, layers)
    for t in range(frames):
        expected = official_window(t, features)
        for layer in range(layers):
            want = [0 if j < 0 else j + 1 + int(layer * LAYER_TAG) for j in expected]
            assert seen[t, :, layer].tolist() == want, f"frame {t}, layer {layer}: window {seen[t, :, layer]}"
    # Centred: frame t's own two feature frames (2t, 2t + 1) sit in the middle of its window.
    middle = [official_window(t, features)[4:6] for t in range(frames)]
    assert all(m == [2 * t, 2 * t + 1] for t, m in enumerate(middle))


@pytest.fixture
def whisper_output(monkeypatch):
    """The Whisper encoder's real hidden states, recorded (embedding layer: (features, dim) per 30 s)."""
    from transformers.models.whisper.modeling_whisper import WhisperEncoder

    real, seen = WhisperEncoder.forward, []

    def forward(encoder, *args, **kwargs):
        output = real(encoder, *args, **kwargs)
        seen.append(output.hidden_states[0][0].detach().float().cpu().numpy())
        return output

    monkeypatch.setattr(WhisperEncoder, "forward", forward)
    return seen


def test_a_sound_at_a_known_time_reaches_exactly_the_frames_whose_window_holds_it(unet_spy, whisper_output,
                                                                                  tmp_path):
    """Two speeches, silent but for one burst at 0.20 s or at 0.60 s. Whisper's embedding layer (before its
    attention mixes the clip) differs only at the feature frames around the bursts; the frames whose speech
    differs there must be exactly those whose official window holds one of those feature frames."""
    from PIL import Image

    face = tmp_path / "face.png"
    Image.fromarray(factory.face_pixels()).save(face)
    burst = factory.tone(0.02, hz=700.0) * 3
    layer0, embedded = [], []
    for at in (0.20, 0.60):
        samples = np.zeros(media.SPEECH_RATE, np.float32)
        start = int(at * media.SPEECH_RATE)
        samples[start:start + len(burst)] = burst
        speech = media.write_wav(tmp_path / f"burst{at}.wav", samples, media.SPEECH_RATE)
        whisper_output.clear()
        unet_spy.contexts.clear()
        outcome(lip_sync_tab.lip_sync(portrait=str(face), audio=str(speech), consent=True, seed=1))
        embedded.append(whisper_output[0][:50])  # 1 s: 50 feature frames
        contexts = unet_spy.per_frame()
        tokens, dim = contexts.shape[1:]
        assert tokens % 10 == 0, f"{tokens} speech tokens a frame: not 10 feature frames x the Whisper layers"
        layers = tokens // 10
        layer0.append(contexts.reshape(len(contexts), 10, layers, dim)[:, :, 0])
    changed = {j for j in range(50) if not np.allclose(embedded[0][j], embedded[1][j], atol=1e-5)}
    # Whisper's 50 Hz: the bursts sit at feature frames 10 and 30 (2 feature frames per 25 fps video frame).
    assert {10, 30} <= changed and all(abs(j - 10) <= 3 or abs(j - 30) <= 3 for j in changed), sorted(changed)
    expected = {t for t in range(25) if changed & set(official_window(t, 50))}
    differs = {t for t in range(25) if not np.allclose(layer0[0][t], layer0[1][t], atol=1e-5)}
    assert differs == expected, (sorted(differs), sorted(expected))
    assert {5, 15} <= differs and not {0, 10, 20, 24} & differs  # each burst at its own time, nowhere else
