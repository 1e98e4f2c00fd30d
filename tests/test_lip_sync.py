"""Lip-sync on tiny models: face detection, speech checks, the MuseTalk pipeline and the public /lip_sync endpoint.

The tiny face detector (a YuNet-shaped graph run by cv2.FaceDetectorYN) finds skin-toned blobs, so the test
portrait is a drawn face: a skin-coloured oval on a blue background. A landscape has no skin tone at all.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import numpy as np
import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from pipelines import face, media, presets, runtime, speech, wholebody
from pipelines import musetalk_face as mt
from pipelines import lip_sync as ls
from tests import factory
from tests.conftest import ROOT
from tests.video_checks import probe

FPS = 25


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("lip_sync")
    Image.fromarray(factory.face_pixels()).save(root / "face.png")
    landscape = np.zeros((64, 96, 3), np.uint8)
    landscape[:32], landscape[32:] = (120, 180, 230), (60, 160, 60)
    Image.fromarray(landscape).save(root / "landscape.png")
    media.write_mp4(root / "face.mp4", np.stack([factory.face_pixels(marker=i) for i in range(6)]), FPS)
    media.write_wav(root / "empty.wav", np.zeros(0, np.float32), speech.RATE)
    return {"face": root / "face.png", "landscape": root / "landscape.png", "video": root / "face.mp4",
            "wav2": factory.wav(root / "two.wav", 2.0), "wav1": factory.wav(root / "one.wav", 1.0),
            "short": factory.wav(root / "short.wav", 0.48),
            "silent": factory.wav(root / "silent.wav", 1.0, silent=True),
            "long": factory.wav(root / "long.wav", 5.0), "empty": root / "empty.wav", "text": root / "notes.txt"}


def test_tiny_detector_finds_the_drawn_face_and_nothing_in_a_landscape(files):
    found = face.detect_faces(np.asarray(Image.open(files["face"])))
    assert found, "the drawn face was not found"
    best = found[0]
    assert 24 <= best.x1 < best.x2 <= 72 and 16 <= best.y1 < best.y2 <= 80  # inside the oval's extent
    assert best.y1 < best.nose[1] < best.y2 and best.score >= face.MIN_SCORE
    assert face.detect_faces(np.asarray(Image.open(files["landscape"]))) == []


def test_unet_is_built_from_its_json_config_and_loaded_weights_only(monkeypatch):
    import torch

    loads = []
    real_load = torch.load

    def spy(path, *args, **kwargs):
        loads.append((Path(path).name, kwargs.get("weights_only")))
        return real_load(path, *args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    models = ls._load(presets.get(ls.TASK, None))
    assert loads == [("unet.pth", True)]
    assert models.unet.config.in_channels == 8  # masked + reference latents
    assert models.unet.config.cross_attention_dim == models.whisper.config.d_model
    assert type(models.unet).__name__ == "UNet2DConditionModel"


def test_the_real_preset_asks_for_the_real_repos_and_files(monkeypatch):
    """The Hub calls are swapped for the tiny folders; the repo ids and file names asked for are the real ones."""
    import huggingface_hub

    asked = {}
    tiny_for = {"TMElyralab/MuseTalk": "musetalk:unet", wholebody.REPO_ID: wholebody.TINY_BUILDER,
                **{a.repo_id: a.tiny_builder for a in presets.aux_models(ls.TASK).values()}}

    def fake_snapshot(repo_id, allow_patterns=None, **kwargs):
        asked[repo_id] = allow_patterns
        return str(runtime.tiny.build(tiny_for[repo_id]))

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot)
    monkeypatch.setenv("STUDIO_TINY", "0")
    real = presets._load(ls.TASK, False)["musetalk-1.5"]
    assert (real.defaults.width, real.defaults.fps, real.limits.max_frames) == (256, 25, 1500)
    ls._load(real)
    assert asked["TMElyralab/MuseTalk"] == ["musetalkV15/musetalk.json", "musetalkV15/unet.pth"]
    assert set(asked) == {"TMElyralab/MuseTalk", "stabilityai/sd-vae-ft-mse", "openai/whisper-tiny",
                          "jonathandinu/face-parsing"}
    fetched = []
    monkeypatch.setattr(runtime, "fetch_file", lambda repo, name: fetched.append((repo, name)) or
                        runtime.tiny.build(face.TINY_BUILDER) / name)
    face._detector_for(False)
    face._detector_for.cache_clear()
    assert fetched == [("opencv/face_detection_yunet", "face_detection_yunet_2023mar.onnx")]
    # The 68 face landmarks come from Wan-Animate's whole-body pose model: its folder, by its real path.
    fetched.clear()
    detector, pose_graph = wholebody.files(tiny_mode=False)
    assert fetched == [("Wan-AI/Wan2.2-Animate-14B", "process_checkpoint/det/yolov10m.onnx")]
    assert asked["Wan-AI/Wan2.2-Animate-14B"] == ["process_checkpoint/pose2d/vitpose_h_wholebody.onnx/*"]
    assert pose_graph.name == "end2end.onnx" and pose_graph.is_file()


def test_a_photo_speaks_and_only_the_lower_face_changes(files):
    """Compares the pipeline's frames before encoding: every pixel outside the face box is the source's.
    (The tiny face parser leans towards "skin", so the lower-face mask is not empty; see pipelines/tiny.)"""
    source = np.asarray(Image.open(files["face"]))
    runtime.STATS.reset()
    result = ls.run(ls.Request(portrait=str(files["face"]), audio=str(files["wav1"]), consent=True, seed=5))
    # Two GPU windows (the face landmarks, then the networks), no loading inside either.
    assert runtime.STATS.calls == 2 and runtime.STATS.violations == []
    assert result.frames.shape == (FPS, *source.shape) and result.fps == FPS
    assert len(result.audio) == speech.RATE and result.settings["consent_confirmed"] is True
    x1, y1, x2, y2 = result.settings["face_box"]
    outside = np.ones(source.shape[:2], bool)
    outside[y1:y2, x1:x2] = False
    assert np.array_equal(result.frames[:, outside], np.broadcast_to(source[outside], (FPS, *source[outside].shape)))
    changed = (result.frames != source).any(-1).any(0)
    assert changed.any(), "nothing was drawn"
    rows = np.nonzero(changed.any(1))[0]
    assert rows.min() >= (y1 + y2) // 2 - 4  # only below the middle of the parser's square (plus the blur)
    crop = result.previews["crop"]  # the first frame as the model sees it: box outlined, mouth area tinted
    assert crop.shape == source.shape and tuple(crop[y1, (x1 + x2) // 2]) == (0, 255, 0)


def test_same_seed_same_frames_other_seed_other_frames(files):
    def frames(seed):
        return ls.run(ls.Request(portrait=str(files["face"]), audio=str(files["short"]), consent=True,
                                 seed=seed)).frames

    first, again, other = frames(7), frames(7), frames(8)
    assert len(first) == 12  # 0.48 s at 25 fps
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_a_video_portrait_plays_forward_and_back_for_as_long_as_the_speech(files):
    source = media.read_video(files["video"], fps=FPS, with_audio=False).frames
    result = ls.run(ls.Request(portrait=str(files["video"]), audio=str(files["wav1"]), consent=True))
    assert len(result.frames) == FPS and result.settings["portrait_kind"] == "video"
    corner = result.frames[:, :8, :8]  # the grey tag that numbers each source frame, outside the face
    assert np.array_equal(corner, source[mt.ping_pong(len(source), FPS)][:, :8, :8])


@pytest.mark.parametrize("change, words", [
    (dict(portrait="landscape"), "No face found in the photo"),
    (dict(audio="silent"), "silent"),
    (dict(audio="empty"), "empty"),
    (dict(audio=None, text=""), "Give the speech"),
    (dict(audio="long"), "lasts 5.0 s; the limit is 4 s"),
    (dict(consent=False), "consent"),
    (dict(portrait=None), "Add a portrait"),
    (dict(portrait="text"), "neither a photo nor a video"),
    (dict(audio=None, text="x" * 1001), "1001 characters"),
    (dict(seed=-1), "seed must be between"),
])
def test_bad_input_says_what_to_change(files, change, words):
    files["text"].write_text("not a picture")
    values = {"portrait": "face", "audio": "wav1", "text": "", "consent": True, "seed": 0, **change}
    for name in ("portrait", "audio"):
        values[name] = str(files[values[name]]) if values[name] else None
    with pytest.raises(ValueError, match=words):
        ls.run(ls.Request(**values))


def test_without_the_hub_espeak_ng_speaks_when_installed(files, tmp_path, monkeypatch):
    """espeak-ng is not installed here: a stand-in script on PATH writes a tone, as espeak-ng writes speech."""
    fake = tmp_path / "espeak-ng"
    fake.write_text(f"#!{sys.executable}\n"
                    "import sys, numpy as np\nsys.path.insert(0, %r)\nfrom pipelines import media\n"
                    "out = sys.argv[sys.argv.index('-w') + 1]\ntext = sys.stdin.read()\n"
                    "t = np.arange(int(0.1 * len(text) * 16000)) / 16000\n"
                    "media.write_wav(out, 0.3 * np.sin(2 * np.pi * 200 * t), 16000)\n" % str(ROOT))
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")

    def offline():
        raise runtime.HubUnavailable("no network")

    monkeypatch.setattr(speech, "_voice", offline)
    spoken = speech.from_text("Hello there", seed=0, max_seconds=4)
    assert spoken.source == "tts:espeak-ng" and abs(spoken.seconds - 1.1) < 0.01


# ------------------------------------------------------------ MuseTalk 1.5's rules, worked out by hand


def landmarks(split_y: float = 250.0) -> np.ndarray:
    """68 face landmarks: x from 100 to 180, y from 220 down to the chin at 300, landmark 29 at `split_y`,
    landmark 30 (the nose tip) 12 px lower."""
    points = np.stack([np.linspace(100, 180, 68), np.linspace(220, 300, 68)], axis=1)
    points[29], points[30] = (140, split_y), (140, split_y + 12)
    return points


def test_crop_box_mirrors_the_chin_about_landmark_29_with_10_px_below():
    # chin 300, landmark 29 at 250: top 250 - 50 = 200; bottom 300 + 10 (v1.5 extra margin); x 100..180
    assert mt.crop_box(landmarks(), (720, 1280, 3), 10) == (100, 200, 180, 310)
    assert mt.crop_box(landmarks(262.7), (720, 1280, 3), 10) == (100, 224, 180, 310)  # whole pixels: 262 -> 224
    assert mt.crop_box(landmarks(), (305, 1280, 3), 10) == (100, 200, 180, 305)       # kept inside the image


def test_landmarks_that_make_no_box_fall_back_to_the_detector_box():
    flat = np.zeros((68, 2))
    flat[:, 0] = np.linspace(100, 180, 68)  # every y equal: no height
    assert mt.crop_box(flat, (720, 1280, 3), 10, fallback=(90, 150, 190, 290)) == (90, 150, 190, 300)
    assert mt.crop_box(flat, (720, 1280, 3), 10) is None


def test_the_cycle_is_the_frames_then_the_frames_reversed():
    assert mt.ping_pong(3, 8).tolist() == [0, 1, 2, 2, 1, 0, 0, 1]  # frames + frames[::-1], repeated
    assert mt.ping_pong(1, 3).tolist() == [0, 0, 0]


IDS = {"skin": [5], "nose": [7], "lips": [2, 3, 4]}  # deliberately not the parser's usual numbers


def test_jaw_mask_grows_skin_by_the_cone_kernel():
    labels = np.zeros((512, 512), np.uint8)
    labels[300, 256] = 5  # one skin pixel in the chin band
    mask = mt.jaw_mask(labels, IDS) > 0
    widths = mask.sum(axis=1)
    # The 33 x 33 kernel (centre 16): rows 10-20 a cone 1, 3, ... 21 wide, rows 21-32 21 wide. Dilation reads
    # the kernel's row r at offset r - 16, so the pixel at row 300 spreads to rows 284 .. 306.
    assert widths[306] == 1 and widths[303] == 7 and widths[300] == 13 and widths[296] == 21
    assert widths[284] == 21 and widths[283] == 0 and widths[307] == 0
    assert widths.sum() == 1 + 3 + 5 + 7 + 9 + 11 + 13 + 15 + 17 + 19 + 21 * 13


def test_jaw_mask_erodes_the_cheeks_and_leaves_out_the_nose_but_keeps_the_lips():
    labels = np.zeros((512, 512), np.uint8)
    labels[300, 40] = 5          # a skin speck on a cheek (x < 256 - 90): the flat ellipse erodes it away
    labels[200:210, 250:262] = 7  # the nose, next to skin
    labels[190:200, 250:262] = 5
    labels[350:360, 240:270] = 3  # the upper lip, no skin around it
    mask = mt.jaw_mask(labels, IDS)
    assert mask[:, :100].max() == 0
    assert mask[200:210, 250:262].max() == 0                          # skin grows over the nose: not kept
    assert mask[190:200, 250:262].min() == 255 and mask[350:360, 240:270].min() == 255


def test_class_ids_come_from_the_parsers_labels():
    ids = mt.class_ids({0: "background", 1: "nose", 2: "skin", 3: "l_lip", 4: "u_lip", 5: "mouth"})
    assert ids == {"skin": [2], "nose": [1], "lips": [5, 4, 3]}
    with pytest.raises(RuntimeError, match="no skin"):
        mt.class_ids({0: "background", 1: "nose", 2: "mouth", 3: "u_lip", 4: "l_lip"})


def test_the_pipeline_reads_the_class_ids_from_its_own_parser(files, monkeypatch):
    seen, real = [], mt.class_ids
    monkeypatch.setattr(mt, "class_ids", lambda id2label: seen.append(dict(id2label)) or real(id2label))
    ls.run(ls.Request(portrait=str(files["face"]), audio=str(files["short"]), consent=True))
    parser = ls._models(presets.get(ls.TASK, None)).parser
    assert seen and seen[0] == dict(parser.config.id2label)


def test_only_the_lower_half_of_the_parser_square_is_pasted():
    box = (100, 200, 180, 310)           # 80 x 110: centre (140, 255), half side int(110 // 2 * 1.5) = 82
    square = mt.parse_square(box)
    assert square == (58, 173, 222, 337)
    alpha = mt.paste_mask(np.full((512, 512), 255, np.uint8), box, square)
    assert alpha.shape == (110, 80)
    # The square's middle is y = 173 + 82 = 255, row 55 of the box; blur kernel int(0.05 * 164 // 2 * 2) + 1 = 9.
    assert alpha[:50].max() == 0 and alpha[60:100, 10:70].min() == 255


# ------------------------------------------------------------------------------------- the public endpoint


def test_endpoint_photo_and_two_seconds_of_speech_give_a_two_second_video_with_that_sound(client, files):
    video, crop, info, seed = client.predict(portrait=handle_file(str(files["face"])),
                                             audio=handle_file(str(files["wav2"])), consent=True, seed=3,
                                             api_name="/lip_sync")
    assert Image.open(crop).size == Image.open(files["face"]).size  # the crop preview of the first frame
    facts = probe(video)
    assert abs(len(facts.frames) - 2 * FPS) <= 1 and facts.fps == FPS
    assert (facts.codec, facts.pix_fmt) == ("h264", "yuv420p")
    assert abs(facts.audio_seconds - 2.0) < 0.1
    meta = media.read_metadata(video)  # the info line links to this very result, made with this seed
    assert seed == 3 and meta["settings"]["seed"] == 3 and f"/r/{meta['id']}" in info
    settings = media.read_metadata(video)["settings"]
    assert settings["speech"] == "audio" and settings["consent_confirmed"] is True


def test_endpoint_speaks_text_when_there_is_no_audio(client, files):
    spoken = "Hello there, how are you today?"  # smoke-mode speech lasts as long as its text: about 1.5 s
    video, _, _, _ = client.predict(portrait=handle_file(str(files["face"])), text=spoken, consent=True,
                                    api_name="/lip_sync")
    facts = probe(video)
    settings = media.read_metadata(video)["settings"]
    assert settings["speech"] == "tts:microsoft/speecht5_tts" and settings["text"] == spoken
    assert len(facts.frames) == int(settings["speech_seconds"] * FPS) > FPS // 2
    assert abs(facts.audio_seconds - len(facts.frames) / FPS) < 0.1  # the video lasts as long as the speech


def test_endpoint_takes_a_portrait_video(client, files):
    video, _, _, _ = client.predict(portrait=handle_file(str(files["video"])), audio=handle_file(str(files["wav1"])),
                                    consent=True, api_name="/lip_sync")
    facts = probe(video)
    assert len(facts.frames) == FPS and abs(facts.audio_seconds - 1.0) < 0.1
    assert media.read_metadata(video)["settings"]["portrait_kind"] == "video"


@pytest.mark.parametrize("kwargs, words", [
    (dict(portrait="face", audio="wav1"), "consent"),
    (dict(portrait="landscape", audio="wav1", consent=True), "No face found"),
    (dict(portrait="face", consent=True), "Give the speech"),
])
def test_endpoint_bad_input_is_a_clear_error(client, files, kwargs, words):
    kwargs = {k: handle_file(str(files[v])) if k in ("portrait", "audio") else v for k, v in kwargs.items()}
    with pytest.raises(AppError, match=words):
        client.predict(**kwargs, api_name="/lip_sync")
