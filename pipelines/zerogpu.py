"""ZeroGPU, as the installed `spaces` package works (spaces 0.51.3, spaces/zero/):

- Weights moved to CUDA before the app launches are packed once at start-up (zero/__init__.py startup() ->
  zero/torch/patching.py pack()) and streamed to each GPU window; the default GPU size becomes "xlarge" when the
  packed total exceeds the hardware's `xlarge_threshold` (zero/configs.json). Weights loaded lazily inside a
  request are not packed. So on ZeroGPU the default preset of every enabled tab is loaded at start-up
  (STUDIO_PRELOAD=0 turns it off); the other presets and local CUDA keep loading on first use.
- `spaces.GPU(size=...)` takes "large" (half an H200: ZEROGPU_CUDA_TOTAL_MEMORY 74625056768 bytes, the
  "NVIDIA H200 MIG 3g.71gb" of zero/config.py) or "xlarge" (a whole H200, 141 GB; it counts twice against the
  quota, zero/client.py). Each request asks for the smallest size its model fits on.

Only decisions live here (pure functions, tested on the CPU); app.py calls preload() and runtime.gpu_task asks
gpu_size() per request.
"""

from __future__ import annotations

import importlib
import logging
import os

from pipelines import cost, presets

log = logging.getLogger("studio")

LARGE_GB = 74625056768 / 1e9   # spaces zero/config.py: ZEROGPU_CUDA_TOTAL_MEMORY default (H200 MIG 3g.71gb)
XLARGE_GB = 141.0              # a whole H200 (NVIDIA spec sheet)
MARGIN = 0.9                   # leave room for the CUDA context and fragmentation
SIZES = ("large", "xlarge")


def on_zero_gpu() -> bool:
    """True on a ZeroGPU Space: spaces.config.Config.zero_gpu, read from SPACES_ZERO_GPU."""
    import spaces

    if getattr(spaces.config.Config, "zero_gpu", False):
        return True
    return os.environ.get("SPACES_ZERO_GPU", "").strip().lower() in {"1", "t", "true"}


def preload_enabled() -> bool:
    return on_zero_gpu() and os.environ.get("STUDIO_PRELOAD", "1").strip().lower() not in {"0", "false", "no", "off"}


def preload_plan(tabs: list[str]) -> list[presets.Preset]:
    """The default preset of every enabled tab, when start-up loading applies; else nothing."""
    if not preload_enabled():
        return []
    return [presets.get(task, None) for task in tabs]


def gpu_size(preset: presets.Preset) -> str:
    """"large" when the model's peak with everything on the GPU fits half an H200, else "xlarge"."""
    if cost.peak_vram(preset, "gpu") <= LARGE_GB * MARGIN:
        return "large"
    return "xlarge"


def size_memory_gb(size: str) -> float:
    return XLARGE_GB if size == "xlarge" else LARGE_GB


def size_for_call(*args, **kwargs) -> str | None:
    """The GPU size of a GPU-function call: from the preset of its first argument that has one (a plan)."""
    for value in (*args, *kwargs.values()):
        preset = getattr(value, "preset", None)
        if isinstance(preset, presets.Preset):
            return gpu_size(preset)
    return None


def _load(preset: presets.Preset) -> None:
    from pipelines import runtime

    if preset.task == "lip_sync":  # not a diffusers pipeline: its own loader, resident with the helpers
        importlib.import_module("pipelines.lip_sync")._models(preset)
    else:
        runtime.pipeline(preset, pin=True)


def preload(tabs: list[str]) -> list[str]:
    """Load (and move to CUDA, to be packed) the default model of every enabled tab; returns what was loaded."""
    loaded = []
    for preset in preload_plan(tabs):
        log.info("ZeroGPU start-up: loading %s (%s) for %s", preset.key, preset.repo_id, preset.task)
        _load(preset)
        loaded.append(f"{preset.task}:{preset.key}")
    return loaded
