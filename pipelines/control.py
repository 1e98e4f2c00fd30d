"""Control videos that carry a video's structure and motion but not its look: depth maps and canny edges.

Both return uint8 (T, H, W, 3) frames the size of the input, white on black, as VACE's control inputs expect.
Depth comes from a transformers depth-estimation model (Depth Anything V2 by default); edges from OpenCV.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pipelines import runtime
from pipelines.presets import AuxModel

KINDS = ("depth", "canny")
CANNY_THRESHOLDS = (100, 200)  # OpenCV's usual hysteresis pair for 8-bit frames
DEPTH_BATCH = 8
DEPTH_SECONDS_PER_FRAME = 0.02  # Depth Anything V2 Small at 518 px on a data-centre GPU, generously


def canny(frames: np.ndarray) -> np.ndarray:
    """Edges of every frame; a light blur first so sensor noise and compression blocks draw no lines."""
    import cv2

    low, high = CANNY_THRESHOLDS
    edges = np.empty(frames.shape[:3], np.uint8)
    for index, frame in enumerate(frames):
        gray = cv2.GaussianBlur(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), (3, 3), 0)
        edges[index] = cv2.Canny(gray, low, high)
    return np.repeat(edges[..., None], 3, axis=-1)


def depth_estimator(model: AuxModel):
    """The processor and model of a depth-estimation repo, loaded once and kept resident."""

    def load():
        from transformers import AutoImageProcessor, AutoModelForDepthEstimation

        folder = runtime.hub_folder(model.repo_id, model.tiny_builder)
        processor = AutoImageProcessor.from_pretrained(folder)
        network = AutoModelForDepthEstimation.from_pretrained(folder).to(runtime.device()).eval()
        return processor, network

    return runtime.cached(("depth", model.repo_id), load, size_gb=0.2)


def _depth_seconds(estimator, frames, progress=None) -> float:
    return 5.0 + DEPTH_SECONDS_PER_FRAME * len(frames)


@runtime.gpu_task(duration=_depth_seconds)
def _estimate_depth(estimator, frames: np.ndarray, progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """Inside a GPU window: the depth network only. Returns float32 (T, H, W) relative depth (larger = nearer)."""
    import torch

    processor, network = estimator
    height, width = frames.shape[1:3]
    maps = []
    for first in range(0, len(frames), DEPTH_BATCH):
        batch = list(frames[first:first + DEPTH_BATCH])
        inputs = processor(images=batch, return_tensors="pt").to(network.device)
        with torch.inference_mode():
            predicted = network(pixel_values=inputs["pixel_values"].to(network.dtype)).predicted_depth
        resized = torch.nn.functional.interpolate(predicted[:, None].float(), size=(height, width), mode="bicubic",
                                                  align_corners=False)[:, 0]
        maps.append(resized.cpu().numpy())
        if progress is not None:
            progress(min(first + DEPTH_BATCH, len(frames)), len(frames))
    return np.concatenate(maps).astype(np.float32)


def depth(frames: np.ndarray, model: AuxModel, progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """Depth maps of every frame, near = white. One scale for the whole clip, so the control does not flicker."""
    estimator = depth_estimator(model)  # download + load outside the GPU window
    maps = _estimate_depth(estimator, frames, progress)
    low, high = np.percentile(maps, [2, 98])
    scaled = np.clip((maps - low) / max(float(high - low), 1e-6), 0.0, 1.0)
    gray = (scaled * 255.0 + 0.5).astype(np.uint8)
    return np.repeat(gray[..., None], 3, axis=-1)


def extract(kind: str, frames: np.ndarray, depth_model: AuxModel,
            progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    if kind == "canny":
        return canny(frames)
    if kind == "depth":
        return depth(frames, depth_model, progress)
    raise ValueError(f"Unknown control {kind!r}; choose one of: {', '.join(KINDS)}.")
