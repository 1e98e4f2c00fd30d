"""Video stylization on tiny models: windows, control videos, source handling, and the /stylize_video endpoint."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError

from pipelines import control, media, presets, runtime
from pipelines import stylize_video as sv
from tests import factory
from tests.video_checks import probe

TASK = "stylize_video"
DEFAULT = presets.get(TASK, None)
FPS = DEFAULT.defaults.fps
CAP = sv.rules(DEFAULT).max_seconds


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("stylize-media")


@pytest.fixture(scope="session")
def source(media_dir):
    """3 s at 30 fps with sound: more than one tiny model window."""
    return factory.video(media_dir / "source.mp4", seconds=3.0, fps=30, audio=True)


@pytest.fixture(scope="session")
def long_source(media_dir):
    return factory.video(media_dir / "long.mp4", seconds=CAP + 1.0, fps=10, audio=True)


@pytest.fixture(scope="session")
def broken(media_dir, source):
    """Files that are not usable videos, by name."""
    empty = media_dir / "empty.mp4"  # a valid MP4 container with zero video frames
    subprocess.run([media.ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "lavfi", "-i", "color=c=black:s=64x64:r=30",
                    "-frames:v", "0", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(empty)], check=True)
    return {"text": factory.not_media(media_dir / "notes.mp4"), "empty": empty,
            "one_frame": factory.video(media_dir / "one_frame.mp4", seconds=1 / 30, fps=30),
            "truncated": factory.truncated(source, media_dir / "truncated.mp4")}


# ------------------------------------------------------------------------------------------- windows


@pytest.mark.parametrize("total", [5, 8, 13, 14, 24, 40, 97])
def test_windows_cover_every_frame_with_the_overlap_and_valid_lengths(total):
    size, overlap = DEFAULT.defaults.num_frames, sv.rules(DEFAULT).overlap_frames
    windows = sv.plan_windows(DEFAULT, total, overlap)
    assert windows[0].start == 0 and windows[0].overlap == 0 and windows[-1].stop == total
    for before, after in zip(windows, windows[1:]):
        assert after.start == before.stop - overlap and after.overlap == overlap
    for window in windows:
        covered = window.stop - window.start
        assert covered <= size and window.length >= covered
        assert (window.length - 1) % DEFAULT.limits.frame_step == 0 and window.length <= size
    assert len(windows) == max(1, int(np.ceil((total - overlap) / (size - overlap))))


def test_join_cross_fades_each_overlap_and_keeps_every_frame():
    windows = sv.plan_windows(DEFAULT, 24, 5)
    results = [np.full((w.stop - w.start, 4, 4, 3), 60 * (i + 1), np.uint8) for i, w in enumerate(windows)]
    video = sv.join(results, windows)
    assert len(video) == 24
    seam = video[windows[1].start:windows[1].start + 5, 0, 0, 0].astype(int)
    assert seam[0] > 60 and seam[-1] < 120 and np.all(np.diff(seam) > 0)  # a fade from window 1 to window 2
    assert video[0, 0, 0, 0] == 60 and video[-1, 0, 0, 0] == 180


# ------------------------------------------------------------------------------------------- control


def test_canny_draws_edges_on_the_squares_border_and_nowhere_else():
    frames = factory.moving_square(5, 64, 48)
    edges = control.canny(frames)
    assert edges.shape == frames.shape and edges.dtype == np.uint8
    assert np.array_equal(edges[..., 0], edges[..., 2])
    for frame, edge in zip(frames, edges[..., 0] > 0):
        ys, xs = np.nonzero(frame[..., 0] > 128)
        top, bottom, left, right = ys.min(), ys.max(), xs.min(), xs.max()
        near_border = np.zeros_like(edge)
        near_border[max(top - 2, 0):bottom + 3, max(left - 2, 0):right + 3] = True
        near_border[top + 3:bottom - 2, left + 3:right - 2] = False  # the square's inside is flat
        assert edge.any() and not (edge & ~near_border).any()
        assert edge[top:bottom + 1, left:left + 2].any() and edge[top:bottom + 1, right - 1:right + 1].any()


def test_depth_control_comes_from_the_depth_model_scaled_over_the_whole_clip(monkeypatch):
    """The depth network's output is replaced by a known ramp to check the scaling (near = white, one scale)."""
    frames = factory.moving_square(4, 32, 16)
    maps = control.depth(frames, sv.depth_model())  # the tiny Depth Anything through the real loading code
    assert maps.shape == frames.shape and maps.dtype == np.uint8
    ramp = np.linspace(0, 1, 4 * 16 * 32, dtype=np.float32).reshape(4, 16, 32)
    monkeypatch.setattr(control, "_estimate_depth", lambda estimator, f, progress=None: ramp)
    scaled = control.depth(frames, sv.depth_model())[..., 0].astype(int)
    assert scaled[0].mean() < scaled[-1].mean() and scaled.max() == 255 and scaled.min() == 0


# ------------------------------------------------------------------------------------------- pipeline


def test_three_seconds_are_made_in_three_windows_with_progress_and_the_same_seed_repeats(source):
    seen = []
    runtime.STATS.reset()
    first = sv.run(sv.Request(video=str(source), prompt="claymation", control="canny", seed=5),
                   progress=lambda done, total, what: seen.append((done, total, what)))
    assert first.frames.shape == (3 * FPS, DEFAULT.defaults.height, DEFAULT.defaults.width, 3)
    assert first.settings["windows"] == 3 and first.fps == FPS
    labels = [what for _, _, what in seen if what.startswith("window")]
    assert labels[0] == "window 1/3, step 1/2" and labels[-1] == "window 3/3, step 2/2" and len(labels) == 6
    assert seen[-1][:2] == (6, 6)
    assert runtime.STATS.calls == 1 and runtime.STATS.violations == []  # one GPU window for all three
    assert first.previews["control"].shape == first.frames.shape
    assert abs(len(first.audio) / first.sample_rate - 3.0) < 0.1
    again = sv.run(sv.Request(video=str(source), prompt="claymation", control="canny", seed=5))
    other = sv.run(sv.Request(video=str(source), prompt="claymation", control="canny", seed=6))
    assert np.array_equal(first.frames, again.frames) and not np.array_equal(first.frames, other.frames)


def test_depth_control_runs_in_its_own_gpu_window_and_is_returned_as_the_preview(source):
    runtime.STATS.reset()
    result = sv.run(sv.Request(video=str(source), prompt="pencil sketch", max_seconds=1.0))
    assert result.settings["control"] == "depth" and result.previews["control"].shape == result.frames.shape
    assert runtime.STATS.calls == 2 and runtime.STATS.violations == []  # depth network, then the video model


@pytest.mark.parametrize("preset", list(presets.presets(TASK)))
def test_every_preset_restyles_a_trimmed_part_at_its_size_and_fps(preset, long_source):
    p = presets.get(TASK, preset)
    result = sv.run(sv.Request(video=str(long_source), prompt="oil painting", preset=preset, start=1.0,
                               max_seconds=2.0, control="canny"))
    assert result.frames.shape == (2 * p.defaults.fps, p.defaults.height, p.defaults.width, 3)
    assert result.frames.std() > 0 and result.settings["windows"] == 2
    assert ("control" in result.previews) == (p.pipeline_class == sv.VACE)
    assert abs(len(result.audio) / result.sample_rate - 2.0) < 0.1


def test_the_real_preset_loads_through_the_same_code_with_its_flow_shift(monkeypatch):
    """Only the download is swapped for the tiny folder; from_pretrained, dtype and scheduler set-up are real."""
    import diffusers

    tiny_preset = presets.get(TASK, "wan2.1-vace-1.3b")
    folder = runtime.model_source(tiny_preset)
    asked = []
    monkeypatch.setattr(diffusers.WanVACEPipeline, "download", lambda repo_id, **kw: asked.append(repo_id) or folder)
    real = presets._load(TASK, False)["wan2.1-vace-1.3b"]
    pipe = sv.load(real)
    assert asked == ["Wan-AI/Wan2.1-VACE-1.3B-diffusers"] and type(pipe).__name__ == "WanVACEPipeline"
    assert pipe.scheduler.config.flow_shift == real.load["flow_shift"] == 16.0  # Wan-Video/Wan2.1 generate.py (vace)
    assert str(pipe.vae.dtype) == "torch.float32"
    runtime.CACHE.clear()


@pytest.mark.parametrize("changes, words", [
    (dict(prompt="  "), "prompt is empty"),
    (dict(preset="sora"), "Unknown model preset 'sora'"),
    (dict(control="pose"), "Unknown control 'pose'"),
    (dict(max_seconds=CAP + 5), f"between 0 \\(the whole video\\) and {CAP:g} s"),
    (dict(start=-1), "start must be 0 s or later"),
    (dict(start=60), "past the end of the video"),
    (dict(preset="wan2.1-v2v-1.3b", strength=0.0), "Strength must be above 0"),
    (dict(preset="lucy-edit-dev", style_image="STYLE"), "takes no style image"),
    (dict(steps=0), "Steps must be between 1"),
])
def test_bad_requests_name_the_value_to_change(changes, words, source, media_dir):
    style = factory.image(media_dir / "style.png")
    fields = {"video": str(source), "prompt": "anime", **changes}
    if fields.get("style_image") == "STYLE":
        fields["style_image"] = str(style)
    with pytest.raises(ValueError, match=words):
        sv.plan(sv.Request(**fields))


@pytest.mark.parametrize("name, words", [
    ("text", "could not be opened as a video"),
    ("empty", "has no video stream"),
    ("one_frame", "too short"),
    ("truncated", "damaged or cut short"),
])
def test_unusable_files_are_clear_errors(name, words, broken):
    with pytest.raises(ValueError, match=words):
        sv.plan(sv.Request(video=str(broken[name]), prompt="anime"))


def test_a_source_over_the_cap_is_refused_unless_trimmed(long_source):
    with pytest.raises(ValueError, match=f"restyles at most {CAP:g} s"):
        sv.plan(sv.Request(video=str(long_source), prompt="anime"))
    assert sv.plan(sv.Request(video=str(long_source), prompt="anime", max_seconds=CAP)).num_frames == CAP * FPS


# ------------------------------------------------------------------------------------------- endpoint


def test_endpoint_returns_the_stylized_video_with_the_sources_sound_and_the_control_video(client, source):
    video, control_video, info, seed = client.predict(
        video=handle_file(str(source)), prompt="a watercolor painting", control="canny", seed=21,
        api_name="/stylize_video")
    facts = probe(video)
    assert (facts.codec, facts.pix_fmt, facts.fps) == ("h264", "yuv420p", FPS)
    assert abs(len(facts.frames) - 3 * FPS) <= 1
    assert abs(facts.audio_seconds - 3.0) < 0.15
    edges = probe(control_video)
    assert len(edges.frames) == len(facts.frames) and edges.frames.max() > 200  # white edges on black
    assert seed == 21 and "3 window(s)" in info
    assert media.read_metadata(video)["settings"]["windows"] == 3


def test_endpoint_takes_a_style_image_with_depth_control(client, source, media_dir):
    style = factory.image(media_dir / "style-endpoint.png", 40, 40)
    video, control_video, _, _ = client.predict(
        video=handle_file(str(source)), prompt="van gogh", style_image=handle_file(str(style)),
        max_seconds=1.0, api_name="/stylize_video")
    assert len(probe(video).frames) == FPS and len(probe(control_video).frames) == FPS
    settings = media.read_metadata(video)["settings"]
    assert settings["has_style_image"] is True and settings["control"] == "depth"


def test_endpoint_bad_files_are_clear_errors_and_the_server_keeps_answering(client, broken, long_source, source):
    for path, words in [(broken["text"], "could not be opened as a video"), (broken["empty"], "no video stream"),
                        (broken["truncated"], "damaged or cut short"), (long_source, f"at most {CAP:g} s")]:
        with pytest.raises(AppError, match=words):
            client.predict(video=handle_file(str(path)), prompt="anime", api_name="/stylize_video")
    video, *_ = client.predict(video=handle_file(str(source)), prompt="anime", control="canny",
                               max_seconds=1.0, api_name="/stylize_video")
    assert len(probe(video).frames) == FPS
