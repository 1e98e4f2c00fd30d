"""Replacement mode's person mask: SAM 2 prompted and its mask augmented as Wan-Animate's preprocessing does
(Wan2.2 wan/modules/animate/preprocess/process_pipepline.py, get_mask and the replace branch of __call__).

The expectations are worked out by hand from those rules; spies record what SAM 2's processor and the Animate
pipeline receive, since a tiny random-weight SAM 2 gives masks that say nothing about its prompts.
"""

from __future__ import annotations

import numpy as np
import pytest

from pipelines import dance, person_mask, pose, presets, runtime
from tests import factory

PRESET = "wan2.2-animate-14b"  # Animate 1: the preset with a replacement mode
# get_mask's key_points_index [0, 1, 2, 5, 8, 11, 10, 13] into the 20 OpenPose-order body points, written as the
# COCO-WholeBody points they are made of (split_kp2ds_for_aa): nose; neck = mean of both shoulders; right
# shoulder; left shoulder; right hip; left hip; right ankle; left ankle.
PROMPT_AS_COCO = [(0, 0), (5, 6), (6, 6), (5, 5), (12, 12), (11, 11), (16, 16), (15, 15)]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("replace-media")
    return {"character": factory.image(folder / "character.png", 64, 96, seed=1),
            # 12 frames at the tiny preset's 8 fps
            "dance": factory.video(folder / "dance.mp4", seconds=1.5, fps=30, width=96, height=64)}


def known_poses(frame: int) -> pose.Pose:
    """A fully seen body whose 17 points all differ, and move right one pixel per frame (96 x 64 video pixels)."""
    points = np.array([[20 + 2 * k + frame, 5 + 3 * k] for k in range(17)], np.float32)
    return pose.Pose.from_body(points, np.ones(17, np.float32))


@pytest.fixture
def sam2_spy(monkeypatch):
    """Records each SAM 2 session (its frames) and each prompt added to it; poses are the known ones above."""
    from transformers import Sam2VideoProcessor

    monkeypatch.setattr(dance, "_pose_models", lambda: None)
    monkeypatch.setattr(pose, "extract", lambda models, frames: [known_poses(t) for t in range(len(frames))])
    seen = {"sessions": [], "prompts": []}
    real_init, real_add = Sam2VideoProcessor.init_video_session, Sam2VideoProcessor.add_inputs_to_inference_session

    def init(self, video=None, **kwargs):
        seen["sessions"].append(np.stack([np.asarray(f) for f in video]))
        return real_init(self, video=video, **kwargs)

    def add(self, **kwargs):
        seen["prompts"].append((len(seen["sessions"]) - 1, kwargs["frame_idx"], kwargs["obj_ids"],
                                np.asarray(kwargs["input_points"]), np.asarray(kwargs["input_labels"])))
        return real_add(self, **kwargs)

    monkeypatch.setattr(Sam2VideoProcessor, "init_video_session", init)
    monkeypatch.setattr(Sam2VideoProcessor, "add_inputs_to_inference_session", add)
    return seen


def expected_points(frame: int, width: int, height: int) -> np.ndarray:
    """The prompt of one frame by hand: the COCO pairs' means, framed into the model's size as the scene is
    (fitted inside with black bars, centred), then truncated to whole pixels (astype(np.int32))."""
    coco = known_poses(frame).points
    scale = min(width / 96, height / 64)
    offset = np.array([(width - 96 * scale) / 2, (height - 64 * scale) / 2])
    return np.array([(coco[a] + coco[b]) / 2 * scale + offset for a, b in PROMPT_AS_COCO]).astype(np.int32)


def replace_run(files, **kwargs):
    return dance.run(dance.Request(files["character"], files["dance"], preset=PRESET, mode="replace", seed=1, **kwargs))


def test_chunks_and_key_frames_are_picked_as_get_mask_picks_them():
    assert [(c.start, c.stop) for c in person_mask.chunks(1000)] == [(0, 400), (400, 800), (800, 1000)]
    assert [(c.start, c.stop) for c in person_mask.chunks(400)] == [(0, 400)]  # the empty 2nd chunk is skipped
    assert person_mask.key_frames(400) == [0, 100, 200, 300]
    assert person_mask.key_frames(12) == [0, 3, 6, 9]
    assert person_mask.key_frames(10) == [0, 2, 4, 6, 8]    # range(0, 10, 10 // 4): five, not four
    assert person_mask.key_frames(5) == [0, 1, 2, 3, 4]
    assert person_mask.key_frames(4) == [0] and person_mask.key_frames(1) == [0]


def test_sam2_is_prompted_with_eight_body_points_of_each_key_frame_in_the_frames_it_segments(files, sam2_spy,
                                                                                             pipeline_spy):
    replace_run(files)
    call = pipeline_spy.calls[-1]
    assert len(sam2_spy["sessions"]) == 1
    frames = sam2_spy["sessions"][0]
    assert frames.shape == (12, call["height"], call["width"], 3)  # the scene at the model's size
    assert [p[1] for p in sam2_spy["prompts"]] == [0, 3, 6, 9]
    for _, frame, obj_id, points, labels in sam2_spy["prompts"]:
        assert obj_id == 1
        assert points.shape == (1, 1, 8, 2) and labels.tolist() == [[[1] * 8]]
        np.testing.assert_array_equal(points[0, 0], expected_points(frame, call["width"], call["height"]))


def test_every_400_frames_start_a_new_sam2_session_prompted_on_its_own_key_frames(files, sam2_spy, monkeypatch):
    """The chunk length is shortened to 5 so a 12-frame clip shows what a 1000-frame one does."""
    monkeypatch.setattr(person_mask, "CHUNK", 5)
    replace_run(files)
    assert [len(s) for s in sam2_spy["sessions"]] == [5, 5, 2]
    assert [(s, f) for s, f, *_ in sam2_spy["prompts"]] == [(0, 0), (0, 1), (0, 2), (0, 3), (0, 4),
                                                             (1, 0), (1, 1), (1, 2), (1, 3), (1, 4), (2, 0)]
    width, height = sam2_spy["sessions"][0].shape[2], sam2_spy["sessions"][0].shape[1]
    second = [p for p in sam2_spy["prompts"] if p[0] == 1]
    # the 2nd session's frame 0 is the clip's frame 5: its own pose, not frame 0's
    np.testing.assert_array_equal(second[0][3][0, 0], expected_points(5, width, height))
    np.testing.assert_array_equal(sam2_spy["prompts"][-1][3][0, 0], expected_points(10, width, height))


def two_blobs(monkeypatch):
    """SAM 2's output replaced by logits that are positive at two pixels, (10 + t, 8) and (40 + t, 14) in frame t,
    given at the video's own size (so the processor's resize is the identity)."""
    import torch
    from transformers import Sam2VideoModel

    real = Sam2VideoModel.propagate_in_video_iterator

    def propagate(self, session, *args, **kwargs):
        for out in real(self, session, *args, **kwargs):
            logits = torch.full((1, 1, session.video_height, session.video_width), -5.0)
            t = out.frame_idx
            logits[0, 0, 8, 10 + t] = logits[0, 0, 14, 40 + t] = 5.0
            out.pred_masks = logits
            yield out

    monkeypatch.setattr(Sam2VideoModel, "propagate_in_video_iterator", propagate)


def test_the_animate_pipeline_gets_the_sam2_mask_dilated_and_boxed_as_the_official_replace_run(files, monkeypatch,
                                                                                            pipeline_spy):
    two_blobs(monkeypatch)
    replace_run(files)
    call = pipeline_spy.calls[-1]
    masks = np.stack([np.asarray(m) for m in call["mask_video"]])
    background = np.stack([np.asarray(f) for f in call["background_video"]])
    assert masks.shape[0] == 12 and masks.shape[1:] == (call["height"], call["width"])
    for t, mask in enumerate(masks):
        # get_mask_body_img: 3 dilations by a 7 x 7 square grow each pixel 9 px each way (clipped at the top);
        # get_aug_mask with one cell: the bounding box x 1+t..49+t, y 0..23 filled except its last column and
        # row, which keep only the dilated second pixel (x 31+t..49+t, y 5..23).
        expected = np.zeros_like(mask)
        expected[0:23, 1 + t:49 + t] = 255
        expected[5:24, 31 + t:50 + t] = 255
        np.testing.assert_array_equal(mask, expected, err_msg=f"frame {t}")
        assert background[t][mask > 0].max() == 0 and background[t][mask == 0].any()  # frame * (1 - mask)


def test_the_preview_shows_the_skeleton_over_the_kept_scene_with_the_masked_place_tinted(files, monkeypatch):
    two_blobs(monkeypatch)
    prepared = []
    real_prepare = dance.prepare
    monkeypatch.setattr(dance, "prepare", lambda *a, **k: prepared.append(real_prepare(*a, **k)) or prepared[-1])
    result = replace_run(files)
    inputs, shown = prepared[0], result.previews["skeleton"]
    drawn = inputs.skeleton.any(axis=-1)
    masked = (inputs.mask > 0) & ~drawn
    kept = (inputs.mask == 0) & ~drawn
    assert masked.any() and kept.any() and drawn.any()
    assert (shown[masked] == dance.MASK_TINT).all()
    np.testing.assert_array_equal(shown[kept], inputs.background[kept])
    np.testing.assert_array_equal(shown[drawn], inputs.skeleton[drawn])


def test_nobody_in_the_video_stops_before_sam2_and_nobody_outlined_is_a_clear_error(files, sam2_spy, monkeypatch):
    monkeypatch.setattr(pose, "extract", lambda models, frames: [None] * len(frames))
    with pytest.raises(ValueError, match=r"No person was found in the dance video 'dance.mp4' \(12 frames"):
        replace_run(files)
    assert sam2_spy["sessions"] == []

    from transformers import Sam2VideoModel

    real = Sam2VideoModel.propagate_in_video_iterator

    def nothing(self, session, *args, **kwargs):
        for out in real(self, session, *args, **kwargs):
            out.pred_masks = out.pred_masks * 0 - 1.0  # every logit negative: no pixel of anyone
            yield out

    monkeypatch.setattr(pose, "extract", lambda models, frames: [known_poses(t) for t in range(len(frames))])
    monkeypatch.setattr(Sam2VideoModel, "propagate_in_video_iterator", nothing)
    with pytest.raises(ValueError, match="No person could be outlined in the dance video 'dance.mp4', so there is "
                                         "nobody to replace"):
        replace_run(files)


def test_frames_reach_sam2_resized_as_the_official_loader_resizes_them():
    """sam_utils._load_img_v2_as_tensor: PIL resize (bicubic) to the model's square, /255, ImageNet mean/std."""
    from PIL import Image

    models = dance._mask_models()
    rng = np.random.default_rng(0)
    frame = np.asarray(Image.fromarray(rng.integers(0, 255, (12, 24, 3), dtype=np.uint8)).resize((96, 48)))
    side = models.model.config.image_size
    official = (np.asarray(Image.fromarray(frame).resize((side, side))) / 255.0 - [0.485, 0.456, 0.406]) \
        / [0.229, 0.224, 0.225]
    session = models.processor.init_video_session(video=[frame], inference_device="cpu")
    given = session.get_frame(0).squeeze(0).permute(1, 2, 0).numpy()
    assert np.abs(given - official).mean() < 1e-3  # 2.6e-5 here; bilinear (the processor's default) is 0.046 off


def test_sam2_runs_only_inside_its_own_gpu_window_with_a_duration_by_clip_length(monkeypatch):
    """10 s at 30 fps: 10 + 0.05 x 300 = 25 s asked of ZeroGPU."""
    from transformers import Sam2VideoModel

    models = dance._mask_models()  # loaded (outside any window) before counting
    inside = []
    real = Sam2VideoModel.forward
    monkeypatch.setattr(Sam2VideoModel, "forward",
                        lambda self, *a, **k: inside.append(runtime.inside_gpu_window()) or real(self, *a, **k))
    runtime.STATS.reset()
    frames = np.random.default_rng(0).integers(0, 255, (3, 32, 48, 3), dtype=np.uint8)
    masks = person_mask.track(models, frames, [known_poses(t) for t in range(3)])
    assert masks.shape == (3, 32, 48) and set(np.unique(masks)) <= {0, 1}
    assert inside and all(inside) and runtime.STATS.calls == 1
    assert person_mask._track_seconds(models, np.zeros((300, 1, 1, 3)), []) == pytest.approx(25.0)


def test_the_real_model_is_the_transformers_port_of_the_official_sam2_checkpoint(monkeypatch):
    import huggingface_hub

    asked = []
    monkeypatch.setattr(presets, "tiny_mode", lambda: False)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda repo, **k: asked.append((repo, k)) or "/x")
    person_mask.source()
    # preprocess_data.py loads sam2/sam2_hiera_large.pt (SAM 2, Hiera-L); its Hub repo carries the transformers
    # weights beside it, and only those are fetched
    assert asked == [("facebook/sam2-hiera-large", {"allow_patterns": ["*.json", "*.safetensors"], "token": None})]


@pytest.mark.parametrize("mode, locale, words", [
    ("replace", "en", "plus ~47 s of GPU preparation"),       # keypoints 10 + 0.04 x 300, SAM 2 10 + 0.05 x 300
    ("animate", "en", "plus ~32 s of GPU preparation"),       # keypoints of the clip, then of the character image
    ("replace", "zh-CN", "另需约 47 秒 GPU 预处理"),
])
def test_the_pre_flight_line_shows_the_preparation_windows(monkeypatch, mode, locale, words):
    """On the real model (smoke mode shows no timings): 10 s at Animate's 30 fps is 300 frames."""
    from tabs import dance as tab
    from tabs import i18n

    monkeypatch.setattr(presets, "tiny_mode", lambda: False)
    monkeypatch.setattr(i18n, "language", lambda request: locale)
    line = tab._preflight(PRESET, mode, 10, 20, 1.0)
    assert words in line


def test_sam2_loads_once_before_any_gpu_window_and_stays_loaded(files, monkeypatch):
    from transformers import Sam2VideoModel

    loads = []
    real = Sam2VideoModel.from_pretrained.__func__
    monkeypatch.setattr(Sam2VideoModel, "from_pretrained",
                        classmethod(lambda cls, *a, **k: loads.append(runtime.inside_gpu_window()) or real(cls, *a, **k)))
    monkeypatch.setattr(runtime, "HELPERS", runtime.PipelineCache(evicts=False))  # a cold start for the helpers
    runtime.STATS.reset()
    replace_run(files, max_seconds=1.0)
    replace_run(files, max_seconds=1.0)
    assert loads == [False]
    assert runtime.STATS.violations == []
