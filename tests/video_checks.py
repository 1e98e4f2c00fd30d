"""Facts about an MP4 read back with PyAV, for assertions."""

from __future__ import annotations

from dataclasses import dataclass

import av
import numpy as np


@dataclass
class Probe:
    frames: np.ndarray
    fps: float
    codec: str
    pix_fmt: str
    audio_seconds: float

    @property
    def seconds(self) -> float:
        return len(self.frames) / self.fps


def probe(path) -> Probe:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        codec, pix_fmt, fps = stream.codec_context.name, stream.codec_context.pix_fmt, float(stream.average_rate)
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(stream)])
    audio_seconds = 0.0
    with av.open(str(path)) as container:
        if container.streams.audio:
            audio = container.streams.audio[0]
            samples = sum(f.samples for f in container.decode(audio))
            audio_seconds = samples / audio.rate
    return Probe(frames, fps, codec, pix_fmt, audio_seconds)
