"""The dancer's mask for Wan 2.2 Animate's replacement mode: SAM 2 video segmentation prompted with body
keypoints, then the official mask augmentation, as Wan-Animate's own preprocessing makes it.

    models = load()                                    # SAM 2 Hiera-L video model and its processor, resident
    masks = person_masks(models, frames, poses)        # (T, H, W) uint8, 255 where the character goes

Every rule here is from Wan2.2 wan/modules/animate/preprocess/process_pipepline.py (ProcessPipeline.get_mask and
the replace branch of __call__) unless another file is named. The model is the transformers port of the
checkpoint the official run loads (preprocess_data.py: sam2/sam2_hiera_large.pt with sam2_hiera_l.yaml, SAM 2,
not 2.1), run with transformers' Sam2VideoModel and Sam2VideoProcessor; in smoke mode a tiny random-weight model
of the same classes (pipelines/tiny/sam2.py) is read through the same code.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from pipelines import pose, presets, runtime

REPO_ID = "facebook/sam2-hiera-large"  # the Hub repo of sam2_hiera_large.pt, with its transformers weights
WEIGHTS = ["*.json", "*.safetensors"]  # the transformers files only, not the 0.9 GB original .pt beside them
TINY_BUILDER = "sam2:video"

CHUNK = 400                        # get_mask(frames, 400, ...): a new SAM 2 session every 400 frames
KEY_FRAMES = 4                     # get_mask: 4 key frames when a chunk has more than 4 frames, else 1
# get_mask key_points_index, into keypoints_body (pose2d_utils.split_kp2ds_for_aa, the 20 OpenPose-order points
# of pose.BODY_NAMES): nose, neck, right and left shoulder, right and left hip, right and left ankle.
PROMPT_POINTS = (0, 1, 2, 5, 8, 11, 10, 13)
OBJECT_ID = 1                      # get_mask: ann_obj_id = 1, every point labelled 1 (foreground)
MASK_THRESHOLD = 0.0               # get_mask: out_mask_logits > 0.0
SECONDS_PER_FRAME = 0.05           # SAM 2 Hiera-L tracking on a ZeroGPU H200 slice, per frame (an estimate)
SIZE_GB = 0.9                      # 224 M parameters in float32 (sam_utils.py builds the model in float32)


@dataclass
class Models:
    model: object                  # transformers.Sam2VideoModel
    processor: object              # transformers.Sam2VideoProcessor
    lock: threading.Lock           # one video at a time: a session holds the whole chunk's frames


def source():
    """The model folder: the Hub repo's transformers files, or the tiny stand-in in smoke mode."""
    return runtime.hub_folder(REPO_ID, TINY_BUILDER, allow_patterns=WEIGHTS)


def load() -> Models:
    """SAM 2 and its processor, loaded once (outside any GPU window) and kept resident with the pose models."""

    def models() -> Models:
        from transformers import Sam2VideoModel, Sam2VideoProcessor
        from transformers.image_utils import PILImageResampling

        folder = source()
        with runtime.hub_errors(REPO_ID):
            # float32 as the official predictor runs (sam_utils.build_sam2_video_predictor, no autocast)
            model = Sam2VideoModel.from_pretrained(folder).to(runtime.device()).eval()
            processor = Sam2VideoProcessor.from_pretrained(folder)
        # sam_utils._load_img_v2_as_tensor resizes each frame to 1024 x 1024 with PIL's default, bicubic (the
        # processor's own default is bilinear); then /255 and ImageNet mean/std, as the processor does
        processor.video_processor.resample = PILImageResampling.BICUBIC
        return Models(model, processor, threading.Lock())

    return runtime.cached(("sam2", REPO_ID), models, size_gb=SIZE_GB)


# ------------------------------------------------------------------------------------------------ prompts


def chunks(count: int) -> list[range]:
    """The frame ranges segmented one SAM 2 session each: 400 frames, the last one shorter (get_mask's
    num_step loop; the empty chunk it makes when the length is a multiple of 400 is skipped there too)."""
    return [range(start, min(start + CHUNK, count)) for start in range(0, count, CHUNK)]


def key_frames(length: int) -> list[int]:
    """The prompted frames of a chunk of `length` frames, as get_mask picks them: every (length // 4)-th frame
    from the first (so 5 to 7 frames give more than 4 key frames), only the first when there are 4 or fewer."""
    if length <= 0:
        return []
    step = length // (KEY_FRAMES if length > KEY_FRAMES else 1)
    return list(range(0, length, step))


def prompt_points(found: pose.Pose) -> np.ndarray:
    """(8, 2) int32 pixel points of one frame: the PROMPT_POINTS of the 20 drawn body points, truncated to whole
    pixels as get_mask does ((keypoints_body * wh).astype(np.int32)). Like get_mask, no score filter."""
    body, _ = found.body()
    return body[list(PROMPT_POINTS)].astype(np.int32)


# ---------------------------------------------------------------------------------------------- segmenting


def window_seconds(frames: int) -> float:
    """The GPU window asked for the masks of `frames` frames: start-up plus SAM 2 per frame."""
    return 10.0 + SECONDS_PER_FRAME * frames


def _track_seconds(models: Models, frames, poses) -> float:
    return window_seconds(len(frames))


@runtime.gpu_task(duration=_track_seconds)
def track(models: Models, frames: np.ndarray, poses: list[pose.Pose]) -> np.ndarray:
    """(T, H, W) uint8 0/1: SAM 2's mask of the person per RGB frame, prompted on each chunk's key frames with
    that frame's body points (pixels of `frames`). A GPU window of its own, before the denoising one."""
    import torch

    masks = np.zeros(frames.shape[:3], np.uint8)
    model, processor = models.model, models.processor
    with models.lock, torch.inference_mode():
        for chunk in chunks(len(frames)):
            # get_mask: init_state_v2 + reset_state, one session per chunk over that chunk's frames only
            session = processor.init_video_session(video=list(frames[chunk.start:chunk.stop]),
                                                   inference_device=model.device, dtype=torch.float32)
            for index in key_frames(len(chunk)):
                points = prompt_points(poses[chunk.start + index])
                processor.add_inputs_to_inference_session(
                    inference_session=session, frame_idx=index, obj_ids=OBJECT_ID,
                    input_points=[[points.tolist()]], input_labels=[[[1] * len(points)]])
                model(inference_session=session, frame_idx=index)  # add_new_points runs the prompted frame
            size = [[session.video_height, session.video_width]]
            for out in model.propagate_in_video_iterator(session):
                logits = processor.post_process_masks([out.pred_masks], original_sizes=size, binarize=False)[0]
                masks[chunk.start + out.frame_idx] = (logits[0, 0] > MASK_THRESHOLD).cpu().numpy()
    return masks


def person_masks(models: Models, frames: np.ndarray, poses: list[pose.Pose]) -> np.ndarray:
    """(T, H, W) uint8, 255 where the character goes: SAM 2's mask, then the official augmentation of the replace
    run (utils.get_mask_body_img dilation + get_aug_mask grid, pose.augment_mask), frame by frame."""
    found = track(models, frames, poses)
    return np.stack([pose.augment_mask(mask) * 255 for mask in found]).astype(np.uint8)
