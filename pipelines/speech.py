"""Speech for the lip-sync tab: an upload or recording checked and read as 16 kHz mono, or text made into speech.

Text is spoken by SpeechT5 (`microsoft/speecht5_tts`, MIT) with its HiFi-GAN vocoder (MIT) and one fixed
speaker x-vector from `Matthijs/cmu-arctic-xvectors` (MIT). When the Hub cannot be reached and `espeak-ng` is
installed, espeak-ng speaks instead. Text-to-speech runs on the CPU before the GPU window opens: the model is
small, and the speech's length decides how long the GPU window has to be.
"""

from __future__ import annotations

import functools
import io
import math
import re
import shutil
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipelines import media, presets, runtime, tiny

TASK = "lip_sync"
RATE = media.SPEECH_RATE
MIN_SECONDS = 0.2
SILENCE_DBFS = -50.0          # a peak below this everywhere is silence, not speech
MAX_TEXT_CHARS = 1000
CHUNK_CHARS = 250             # SpeechT5 reads up to ~600 characters; shorter pieces keep its attention on track
PAUSE_SECONDS = 0.15          # between the pieces of a long text
TTS_FILES = ["*.json", "spm_char.model", "pytorch_model.bin"]
VOCODER_FILES = ["config.json", "pytorch_model.bin"]
# Smoke mode: the untrained model never decides to stop, so its speech is made exactly this many spectrogram
# frames per text token (about 48 ms each at 256 samples a frame): as long as the text, like real speech.
SMOKE_FRAMES_PER_TOKEN = 3.0
XVECTOR_ARCHIVE = "spkrec-xvect.zip"
XVECTOR_MEMBER = "spkrec-xvect/cmu_us_slt_arctic-wav-arctic_a0508.npy"  # a US English female voice


@dataclass(frozen=True)
class Speech:
    samples: np.ndarray        # float32 mono at RATE
    source: str                # "audio", or "tts:<model>" for spoken text

    @property
    def seconds(self) -> float:
        return len(self.samples) / RATE


def check(samples: np.ndarray | None, max_seconds: float, what: str = "audio") -> np.ndarray:
    """The samples, if they are speech the lip-sync can use; else a ValueError saying what to change."""
    if samples is None or len(samples) == 0:
        raise ValueError(f"The {what} is empty: it has no sound samples. Record or upload speech, or type text "
                         "to speak instead.")
    seconds = len(samples) / RATE
    if seconds < MIN_SECONDS:
        raise ValueError(f"The {what} lasts {seconds:.2f} s; give at least {MIN_SECONDS:g} s of speech.")
    if seconds > max_seconds:
        raise ValueError(f"The {what} lasts {seconds:.1f} s; the limit is {max_seconds:g} s. Trim it, or split it "
                         "into parts and make one video per part.")
    peak = float(np.max(np.abs(samples)))
    level = 20 * math.log10(peak) if peak > 0 else -math.inf
    if level < SILENCE_DBFS:
        raise ValueError(f"The {what} is silent (its loudest moment is {level:.0f} dBFS). Check the microphone "
                         "or the file, or type text to speak instead.")
    return np.asarray(samples, np.float32)


def from_file(path: str | Path, max_seconds: float) -> Speech:
    """Any common audio (or video) file, resampled to 16 kHz mono, checked."""
    samples = media.read_audio(path, what="audio")
    return Speech(check(samples, max_seconds), "audio")


def from_text(text: str, seed: int, max_seconds: float) -> Speech:
    """Text spoken by SpeechT5 (or espeak-ng when the Hub is out of reach), checked like any speech."""
    text = " ".join(text.split())
    if not text:
        raise ValueError("The text to speak is empty.")
    if len(text) > MAX_TEXT_CHARS:
        raise ValueError(f"The text has {len(text)} characters; the limit is {MAX_TEXT_CHARS}. Shorten it.")
    try:
        voice = _voice()
    except runtime.HubUnavailable:
        if not shutil.which("espeak-ng"):
            raise
        samples, source = _espeak(text), "tts:espeak-ng"
    else:
        samples, source = voice.speak(text, seed), f"tts:{voice.repo_id}"
    return Speech(check(samples, max_seconds, what="speech made from your text"), source)


class _Voice:
    """SpeechT5 text to spectrogram, HiFi-GAN spectrogram to waveform, one fixed speaker."""

    def __init__(self) -> None:
        from transformers import SpeechT5ForTextToSpeech, SpeechT5HifiGan, SpeechT5Tokenizer

        runtime.must_run_outside_gpu("load")
        models = presets.aux_models(TASK)
        tts, vocoder = models["tts"], models["vocoder"]
        self.repo_id = tts.repo_id
        folder = runtime.hub_folder(tts.repo_id, tts.tiny_builder, allow_patterns=TTS_FILES)
        self.tokenizer = SpeechT5Tokenizer.from_pretrained(folder)
        self.model = SpeechT5ForTextToSpeech.from_pretrained(folder).eval()
        self.vocoder = SpeechT5HifiGan.from_pretrained(
            runtime.hub_folder(vocoder.repo_id, vocoder.tiny_builder, allow_patterns=VOCODER_FILES)).eval()
        self.speaker = _speaker_embedding(models["speaker"])
        # The real model ends speech with its stop head (transformers' default bounds); the tiny one gets a
        # length in proportion to the text instead.
        ratio = SMOKE_FRAMES_PER_TOKEN
        self.length = {"minlenratio": ratio, "maxlenratio": ratio} if presets.tiny_mode() else {}

    def speak(self, text: str, seed: int) -> np.ndarray:
        import torch

        pause = np.zeros(int(PAUSE_SECONDS * RATE), np.float32)
        pieces = []
        # The decoder pre-net keeps dropout on at inference: a fixed seed makes the voice reproducible.
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            torch.manual_seed(seed)
            for chunk in _chunks(text):
                ids = self.tokenizer(chunk, normalize=True, return_tensors="pt").input_ids
                wave = self.model.generate_speech(ids, self.speaker, vocoder=self.vocoder, **self.length)
                pieces += [wave.float().numpy(), pause]
        return np.concatenate(pieces[:-1]).astype(np.float32)


@functools.cache
def _voice_for(tiny_mode: bool) -> _Voice:
    # A CPU model kept apart from the GPU model cache, so speaking never evicts the lip-sync models.
    return _Voice()


def _voice() -> _Voice:
    return _voice_for(presets.tiny_mode())


def _speaker_embedding(speaker: presets.AuxModel):
    """One x-vector (1, dim) from the archive in the dataset repo (a .npy read without pickle)."""
    import torch

    if presets.tiny_mode():
        archive = tiny.build(speaker.tiny_builder) / XVECTOR_ARCHIVE
    else:
        archive = runtime.fetch_file(speaker.repo_id, XVECTOR_ARCHIVE, repo_type="dataset")
    with zipfile.ZipFile(archive) as bundle:
        vector = np.load(io.BytesIO(bundle.read(XVECTOR_MEMBER)), allow_pickle=False)
    return torch.from_numpy(np.asarray(vector, np.float32)).reshape(1, -1)


def _chunks(text: str) -> list[str]:
    """Sentences packed into pieces of at most CHUNK_CHARS (a longer sentence is split at spaces)."""
    pieces, current = [], ""
    for sentence in re.split(r"(?<=[.!?;:])\s+", text):
        while len(sentence) > CHUNK_CHARS:
            cut = sentence.rfind(" ", 0, CHUNK_CHARS)
            cut = cut if cut > 0 else CHUNK_CHARS
            pieces.append(sentence[:cut])
            sentence = sentence[cut:].strip()
        if current and len(current) + 1 + len(sentence) > CHUNK_CHARS:
            pieces.append(current)
            current = sentence
        else:
            current = f"{current} {sentence}".strip()
    return [p for p in pieces + [current] if p]


def _espeak(text: str) -> np.ndarray:
    with tempfile.TemporaryDirectory() as scratch:
        wav = Path(scratch) / "speech.wav"
        done = subprocess.run([shutil.which("espeak-ng"), "-w", str(wav), "--stdin"], input=text.encode(),
                              capture_output=True, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"espeak-ng failed: {done.stderr.decode(errors='replace')[-300:]}")
        return media.read_audio(wav, what="espeak-ng speech")
