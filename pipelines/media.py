"""Reading and writing media: images, video frames, audio, and the MP4s the studio hands out.

Frames are numpy arrays, uint8, shaped (frames, height, width, 3). Decoding uses PyAV; encoding uses the
ffmpeg binary that imageio-ffmpeg ships (H.264, yuv420p, AAC), so no system ffmpeg is needed.
Every function raises ValueError with the actual values when the input is unusable.
"""

from __future__ import annotations

import errno
import json
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipelines import limits
from pipelines.runtime import must_run_outside_gpu

SPEECH_RATE = 16_000


@dataclass
class Clip:
    frames: np.ndarray                      # (T, H, W, 3) uint8
    fps: float
    audio: np.ndarray | None = None         # (samples,) float32 mono in [-1, 1]
    sample_rate: int = SPEECH_RATE

    @property
    def seconds(self) -> float:
        return len(self.frames) / self.fps if self.fps else 0.0


def to_mono(audio) -> np.ndarray:
    """A vocoder's waveform (batch, channels, samples), as a tensor or array, as mono float32 samples."""
    samples = np.asarray(audio.float().cpu() if hasattr(audio, "float") else audio, dtype=np.float32)
    while samples.ndim > 1:
        samples = samples[0] if samples.ndim == 3 else samples.mean(axis=0)
    return samples


def to_uint8(frames) -> np.ndarray:
    """Pipeline output (floats in [0, 1], or uint8) as uint8 (T, H, W, 3)."""
    array = np.asarray(frames)
    if array.ndim == 5:  # (batch, T, H, W, C): one video per request
        array = array[0]
    if array.dtype != np.uint8:
        array = (np.clip(array, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return array


# ------------------------------------------------------------------------------------------------ images


def read_image(path: str | Path, what: str = "image"):
    """An RGB PIL image with EXIF rotation applied and transparency flattened onto white."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as opened:
            limits.check_size(*opened.size, what)  # before decoding: a tiny file can claim huge dimensions
            opened.load()
            image = ImageOps.exif_transpose(opened)
    except Image.DecompressionBombError as exc:  # Pillow refuses absurd sizes before our own check can run
        raise ValueError(f"The {what} file {path.name!r} claims a picture far larger than the limit of "
                         f"{limits.current().max_side} px on the long side. Use a smaller file.") from exc
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValueError(f"The {what} file {path.name!r} is not a readable image ({exc}). "
                         "Use a PNG, JPEG or WebP file.") from exc
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return image.convert("RGB")


# ------------------------------------------------------------------------------------------------- video


def read_video(path: str | Path, *, fps: float | None = None, start: float = 0.0,
               max_seconds: float | None = None, with_audio: bool = True, what: str = "video") -> Clip:
    """Decode a video (any container/codec PyAV reads), optionally trimmed and resampled to `fps`."""
    import av

    path = Path(path)
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise ValueError(f"The {what} file {path.name!r} could not be opened as a video ({exc}). "
                         "Use an MP4, MOV, WebM or MKV file.") from exc
    with container:
        if not container.streams.video:
            raise ValueError(f"The {what} file {path.name!r} has no video stream.")
        stream = container.streams.video[0]
        if stream.codec_context is None:
            raise ValueError(f"The {what} file {path.name!r} is corrupt: its video stream cannot be decoded. "
                             "Use an MP4, MOV, WebM or MKV file.")
        limits.check_size(stream.codec_context.width or 0, stream.codec_context.height or 0, what)
        cap = limits.current().video_seconds
        stated = _stated_seconds(container, stream)
        if stated is not None:
            limits.check_duration(stated, what, cap)
        source_fps = float(stream.average_rate or stream.guessed_rate or 0) or 25.0
        end = start + max_seconds if max_seconds else None
        frames = []
        try:
            for frame in container.decode(stream):
                t = float(frame.time) if frame.time is not None else len(frames) / source_fps
                if t > cap:  # a container that understates its length is held to the limit while decoding
                    limits.check_duration(t, what, cap)
                if t < start - 1e-6:
                    continue
                if end is not None and t >= end - 1e-6:
                    break
                frames.append(frame.to_ndarray(format="rgb24"))
        except av.error.FFmpegError as exc:
            if not frames:
                raise ValueError(f"The {what} file {path.name!r} is corrupt ({exc}).") from exc
    if not frames:
        raise ValueError(f"The {what} file {path.name!r} has no frames"
                         + (f" after {start:g} s." if start else "."))
    video = np.stack(frames)
    out_fps = source_fps
    if fps and abs(fps - source_fps) > 1e-3:
        video = _resample(video, source_fps, fps)
        out_fps = fps
    audio = None
    if with_audio:
        audio = read_audio(path, start=start, max_seconds=len(video) / out_fps, missing_ok=True)
    return Clip(video, out_fps, audio)


def _stated_seconds(container, stream) -> float | None:
    """The length the file states (its video stream's, else the container's); None where it states none."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return container.duration / 1_000_000 if container.duration else None


def _resample(frames: np.ndarray, source_fps: float, fps: float) -> np.ndarray:
    """Nearest-frame resampling to a new rate over the same duration."""
    count = max(1, int(round(len(frames) / source_fps * fps)))
    index = np.minimum((np.arange(count) * source_fps / fps).astype(int), len(frames) - 1)
    return frames[index]


# ------------------------------------------------------------------------------------------------- audio


def read_audio(path: str | Path, *, start: float = 0.0, max_seconds: float | None = None,
               rate: int = SPEECH_RATE, missing_ok: bool = False, what: str = "audio") -> np.ndarray | None:
    """Mono float32 samples at `rate` from any file with an audio stream (WAV, MP3, M4A, OGG, a video...)."""
    import av

    path = Path(path)
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise ValueError(f"The {what} file {path.name!r} could not be read as audio ({exc}). "
                         "Use a WAV, MP3, M4A or OGG file.") from exc
    with container:
        if not container.streams.audio:
            if missing_ok:
                return None
            raise ValueError(f"The {what} file {path.name!r} has no audio stream.")
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        chunks = []
        try:
            for frame in container.decode(container.streams.audio[0]):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
        except av.error.FFmpegError as exc:
            if not chunks:
                raise ValueError(f"The {what} file {path.name!r} is corrupt ({exc}).") from exc
    samples = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    first = int(start * rate)
    last = None if max_seconds is None else first + int(round(max_seconds * rate))
    return samples[first:last]


def write_wav(path: str | Path, samples: np.ndarray, rate: int) -> Path:
    pcm = (np.clip(np.asarray(samples, np.float32), -1.0, 1.0) * 32767.0).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(int(rate))
        out.writeframes(pcm.tobytes())
    return Path(path)


# ------------------------------------------------------------------------------------------------ output


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def write_mp4(path: str | Path, frames, fps: float, *, audio: np.ndarray | None = None,
              sample_rate: int = SPEECH_RATE, metadata: dict | None = None, crf: int = 18) -> Path:
    """Encode frames as H.264/yuv420p MP4 (plus AAC audio if given), with settings JSON in the metadata."""
    must_run_outside_gpu("encode")
    video = to_uint8(frames)
    count, height, width, _ = video.shape
    path = Path(path)
    with tempfile.TemporaryDirectory() as scratch:
        command = [ffmpeg_exe(), "-y", "-loglevel", "error",
                   "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", f"{fps:g}", "-i", "-"]
        if audio is not None and len(audio):
            # The video's length is what was asked for: fit the sound to it (pad with silence or trim).
            wanted = int(round(count / fps * sample_rate))
            fitted = np.zeros(wanted, np.float32)
            fitted[: min(wanted, len(audio))] = np.asarray(audio, np.float32)[:wanted]
            wav = write_wav(Path(scratch) / "audio.wav", fitted, sample_rate)
            command += ["-i", str(wav), "-c:a", "aac", "-b:a", "128k"]
        command += ["-map_metadata", "-1", "-c:v", "libx264", "-preset", "medium", "-crf", str(crf),
                    "-pix_fmt", "yuv420p", "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2",  # yuv420p needs even sizes
                    "-movflags", "+faststart+use_metadata_tags"]
        if metadata:
            command += ["-metadata", "comment=" + json.dumps(metadata, ensure_ascii=False, sort_keys=True)]
        command.append(str(path))
        done = subprocess.run(command, input=np.ascontiguousarray(video).tobytes(), capture_output=True)
        if done.returncode != 0:
            if b"No space left on device" in done.stderr:
                path.unlink(missing_ok=True)
                raise OSError(errno.ENOSPC, f"No space left on device while encoding {path.name}")
            raise RuntimeError(f"ffmpeg failed to encode {count} frames: {done.stderr.decode()[-500:]}")
    return path


def read_metadata(path: str | Path) -> dict:
    """The settings JSON the studio embedded in one of its MP4s ({} for other files)."""
    import av

    try:
        with av.open(str(path)) as container:
            comment = container.metadata.get("comment", "")
    except (av.error.FFmpegError, OSError):
        return {}
    try:
        value = json.loads(comment) if comment else {}
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}
