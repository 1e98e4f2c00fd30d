"""What each tab's inputs become at the model, seen by spies on the diffusers call and the lip-sync UNet.

Every generation here goes through the tab's own handler (what a browser or an API call runs), so each test
also checks the saved result: a C2PA manifest that declares it AI-generated, and copies of its input files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipelines import control, dance, media, pose, presets, provenance, store
from pipelines import stylize_video as sv
from tabs import dance as dance_tab
from tabs import image_to_video as i2v_tab
from tabs import lip_sync as lip_sync_tab
from tabs import stylize_video as sv_tab
from tabs import text_to_video as t2v_tab
from tests import factory
from tests.spies import outcome, pixels

ANIMATE = "wan2.2-animate-14b"  # WanAnimatePipeline: character image, pose video and face video as inputs


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("model-inputs")
    from PIL import Image

    Image.fromarray(factory.face_pixels()).save(root / "face.png")
    return {
        "first": factory.image(root / "first.png", 96, 64, seed=1),
        "last": factory.image(root / "last.png", 96, 64, seed=2),
        "style": factory.image(root / "style.png", 40, 40, seed=3),
        "source": factory.video(root / "source.mp4", seconds=3.0, fps=30, audio=True),
        "character": factory.image(root / "character.png", 64, 96, seed=4),
        "dance": factory.video(root / "dance.mp4", seconds=1.5, fps=30, width=96, height=64, audio=True),
        "face": root / "face.png",
        "speech": factory.wav(root / "speech.wav", 1.0),
        "other_speech": media.write_wav(root / "other.wav", factory.tone(1.0, hz=440.0)[::-1].copy(),
                                        media.SPEECH_RATE),
    }


def saved_record(video: str) -> store.Record:
    record = store.get(media.read_metadata(video)["id"])
    assert record is not None
    return record


def assert_signed_with_inputs(video: str, inputs: dict[str, Path]) -> None:
    """The saved MP4 carries a C2PA manifest declaring it AI-generated, and every input file is kept as given."""
    manifest = provenance.read(video)
    assert provenance.is_ai_generated(manifest), "the saved result has no AI-generated C2PA manifest"
    record = saved_record(video)
    kept = record.metadata["inputs"]
    assert set(kept) == set(inputs)
    for name, source in inputs.items():
        assert (record.folder / kept[name]).read_bytes() == Path(source).read_bytes(), f"{name} not kept"


def frame_of(path) -> np.ndarray:
    return np.asarray(media.read_image(path))


# ------------------------------------------------------------------------------------------ text to video


def test_text_to_video_gives_the_model_the_prompts_seed_and_length(pipeline_spy):
    video, info, seed = outcome(t2v_tab.text_to_video(prompt="a red fox in snow", negative_prompt="blurry, text",
                                                      num_frames=5, seed=11))
    call = pipeline_spy.last
    assert call["prompt"] == "a red fox in snow" and call["negative_prompt"] == "blurry, text"
    assert call.seed() == seed == 11 and call["num_frames"] == 5
    assert call["output_type"] == "np"  # frames as arrays, which the saving code expects whatever the model's default
    assert_signed_with_inputs(video, {})
    assert "**11**" in info and f"/r/{saved_record(video).id}" in info


def test_randomize_seed_picks_a_new_seed_that_the_model_uses(pipeline_spy):
    seeds = []
    for _ in range(2):
        *_, seed = outcome(t2v_tab.text_to_video(prompt="a fox", num_frames=5, seed=7, randomize_seed=True))
        assert pipeline_spy.last.seed() == seed
        seeds.append(seed)
    assert 7 not in seeds and seeds[0] != seeds[1]


# ----------------------------------------------------------------------------------------- image to video


def test_image_to_video_gives_the_model_both_frames_and_the_prompts(pipeline_spy, files):
    video, *_ = outcome(i2v_tab.image_to_video(image=str(files["first"]), last_image=str(files["last"]),
                                               prompt="the flower opens", negative_prompt="static", num_frames=5,
                                               seed=3))
    call = pipeline_spy.last
    assert call["prompt"] == "the flower opens" and call["negative_prompt"] == "static" and call.seed() == 3
    first, last = pixels(call["image"]), pixels(call["last_image"])
    assert first.shape[:2] == (call["height"], call["width"]) == last.shape[:2]
    # 96x64 pictures fitted to the model's 3:2 size: the same pictures, resized (not swapped, not blank).
    from PIL import Image

    for given, path in ((first, files["first"]), (last, files["last"])):
        expected = np.asarray(Image.open(path).convert("RGB").resize(given.shape[1::-1], Image.Resampling.LANCZOS))
        assert np.abs(given.astype(int) - expected.astype(int)).mean() < 12
    assert np.abs(first.astype(int) - last.astype(int)).mean() > 20  # two different random pictures
    assert_signed_with_inputs(video, {"image": files["first"], "last_image": files["last"]})


# ------------------------------------------------------------------------------------------- stylization


def test_stylization_gives_the_model_the_edges_the_style_image_and_the_previous_windows_end(pipeline_spy, files):
    video, *_ = outcome(sv_tab.stylize_video(video=str(files["source"]), prompt="claymation",
                                             style_image=str(files["style"]), negative_prompt="blurry",
                                             control="canny", seed=4))
    p = sv.plan(sv.Request(video=str(files["source"]), prompt="x", control="canny"))
    edges = control.canny(p.frames)
    calls = pipeline_spy.calls
    assert len(calls) == len(p.windows) == 3
    style = frame_of(files["style"])
    for call, window in zip(calls, p.windows):
        assert call["prompt"] == "claymation" and call["negative_prompt"] == "blurry"
        given = pixels(call["video"])
        covered = window.stop - window.start
        own = given[window.overlap:covered]
        assert np.array_equal(own, edges[window.start + window.overlap:window.stop])
        assert own.max() == 255 and (own > 0).mean() > 0.01  # white edges, not a black video
        assert np.array_equal(pixels(call["reference_images"]), style)
        mask = pixels(call["mask"])
        assert (mask[:window.overlap] == 0).all() and (mask[window.overlap:] == 255).all()
    for before, after, window_before, window in zip(calls, calls[1:], p.windows, p.windows[1:]):
        made = media.to_uint8(before.frames)[:window_before.stop - window_before.start]
        assert np.array_equal(pixels(after["video"])[:window.overlap], made[-window.overlap:])
    assert saved_record(video).settings["windows"] == 3
    assert_signed_with_inputs(video, {"video": files["source"], "style_image": files["style"]})


def test_stylization_depth_control_reaches_the_model_from_the_trimmed_part(pipeline_spy, files):
    outcome(sv_tab.stylize_video(video=str(files["source"]), prompt="pencil sketch", start=0.75, max_seconds=1.0,
                                 seed=2))
    call = pipeline_spy.last
    assert call["reference_images"] is None  # no style image given, none invented
    preset = presets.get(sv.TASK, None)
    trimmed, _ = sv.read_source(files["source"], preset, 0.75, 1.0, sv.rules(preset).max_seconds)
    from_start, _ = sv.read_source(files["source"], preset, 0.0, 1.0, sv.rules(preset).max_seconds)
    depth = control.depth(trimmed.frames, sv.depth_model())
    given = pixels(call["video"])[:len(depth)]
    assert np.array_equal(given, depth) and given.max() > 0  # depth maps of the trimmed part, not black
    assert not np.array_equal(trimmed.frames, from_start.frames)


def test_stylization_keeps_the_sound_from_the_trim_start(files):
    result = sv.run(sv.Request(video=str(files["source"]), prompt="ink", control="canny", start=0.75, max_seconds=1.0))
    seconds = len(result.frames) / result.fps
    at_start = media.read_audio(files["source"], start=0.75, max_seconds=seconds, rate=sv.AUDIO_RATE)
    at_zero = media.read_audio(files["source"], start=0.0, max_seconds=seconds, rate=sv.AUDIO_RATE)
    assert len(result.audio) == len(at_start)
    assert np.allclose(result.audio, at_start, atol=1e-4) and not np.allclose(result.audio, at_zero, atol=1e-2)


# -------------------------------------------------------------------------------------------------- dance


def test_dance_gives_the_model_the_character_the_skeleton_and_the_face_crops(pipeline_spy, files, monkeypatch):
    made = []
    real_run = dance.run
    monkeypatch.setattr(dance, "run", lambda *a, **k: made.append(real_run(*a, **k)) or made[-1])
    video, *_ = outcome(dance_tab.dance(character_image=str(files["character"]), dance_video=str(files["dance"]),
                                        prompt="a robot dancing", negative_prompt="extra limbs", seed=2,
                                        preset=ANIMATE))
    call = pipeline_spy.last
    assert call["prompt"] == "a robot dancing" and call["negative_prompt"] == "extra limbs" and call.seed() == 2
    assert np.array_equal(pixels(call["image"]), frame_of(files["character"]))
    skeleton = pixels(call["pose_video"])
    assert np.array_equal(skeleton, made[0].previews["skeleton"])  # what the user is shown is what was followed
    assert (skeleton.reshape(len(skeleton), -1).max(axis=1) > 0).mean() >= 0.5  # drawn in most frames
    faces = pixels(call["face_video"])
    # Crops of the dance frames (a grey background, the dancer's white square), not the black "no face" input.
    assert len(faces) == len(skeleton) and faces.mean() > 15
    assert call["mode"] == "animate"
    assert_signed_with_inputs(video, {"character_image": files["character"], "dance_video": files["dance"]})

    # Retargeting: the same dance without it draws another skeleton (the character's size and place differ).
    pipeline_spy.clear()
    monkeypatch.setattr(pose, "retarget", lambda dancer, character: dancer)
    dance.run(dance.Request(files["character"], files["dance"], seed=2, preset=ANIMATE))
    assert not np.array_equal(pixels(pipeline_spy.last["pose_video"]), skeleton)


# ----------------------------------------------------------------------------------------------- lip-sync


def test_lip_sync_gives_every_frame_its_own_speech_window(unet_spy, files):
    video, *_ = outcome(lip_sync_tab.lip_sync(portrait=str(files["face"]), audio=str(files["speech"]), consent=True,
                                              seed=1))
    contexts = unet_spy.per_frame()
    frames = round(1.0 * 25)
    assert len(contexts) == frames  # one UNet input per output frame
    distinct = {c.tobytes() for c in contexts}
    assert len(distinct) == frames, "frames share a speech window: the mouth would not follow the speech"
    assert_signed_with_inputs(video, {"portrait": files["face"], "audio": files["speech"]})

    unet_spy.contexts.clear()
    outcome(lip_sync_tab.lip_sync(portrait=str(files["face"]), audio=str(files["other_speech"]), consent=True, seed=1))
    other = unet_spy.per_frame()
    assert other.shape == contexts.shape
    assert all(not np.allclose(a, b) for a, b in zip(contexts, other))  # each frame follows its own speech
