"""Speed and memory for a loaded pipeline: few-step distill LoRAs, cache hooks, offload profiles, the
attention backend, ahead-of-time compilation on Spaces, and counting transformer evaluations.

The decisions (which offload profile fits) are pure functions in pipelines/cost.py; this module applies them.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from pipelines import cost
from pipelines.presets import Preset

log = logging.getLogger("studio")
CACHE_KINDS = ("off", "first-block", "taylorseer")
DENOISERS = ("transformer", "transformer_2", "unet")


def denoisers(pipe) -> list:
    return [m for name in DENOISERS if (m := getattr(pipe, name, None)) is not None]


# ---------------------------------------------------------------------------------------------- LoRAs


def fuse_loras(pipe, preset: Preset, source: Callable[[dict], tuple[str, str]]) -> None:
    """Load each LoRA of the preset into its transformer, fuse it at its scale, drop the adapter layers.

    Fused weights cost nothing per step; `source(lora)` gives (folder, file name) from the Hub or the tiny build.
    """
    for index, lora in enumerate(preset.loras):
        folder, weight_name = source(lora)
        target = lora.get("into", "transformer")
        name = f"distill_{index}"
        pipe.load_lora_weights(folder, weight_name=weight_name, adapter_name=name,
                               **({"load_into_transformer_2": True} if target == "transformer_2" else {}))
        pipe.fuse_lora(components=[target], lora_scale=float(lora.get("scale", 1.0)), adapter_names=[name])
    if preset.loras:
        pipe.unload_lora_weights()


# ---------------------------------------------------------------------------------------- placement


def free_gpu_gb() -> float:
    import torch

    free, _ = torch.cuda.mem_get_info()
    return free / 2**30


def place(pipe, preset: Preset, device: str) -> str:
    """Put the pipeline on the device with the fastest offload profile that fits (STUDIO_OFFLOAD overrides)."""
    import torch

    if device != "cuda":
        pipe.to(device)
        return "cpu"
    profile = os.environ.get("STUDIO_OFFLOAD") or cost.offload_profile(preset, free_gpu_gb())
    if profile not in cost.PROFILES:
        raise ValueError(f"STUDIO_OFFLOAD must be one of {', '.join(cost.PROFILES)}, got {profile!r}.")
    if profile == "gpu":
        pipe.to(device)
    elif profile == "model":
        pipe.enable_model_cpu_offload()
    elif profile == "fp8":
        for model in denoisers(pipe):
            model.enable_layerwise_casting(storage_dtype=torch.float8_e4m3fn, compute_dtype=torch.bfloat16)
        pipe.enable_model_cpu_offload()
    else:
        for model in denoisers(pipe):
            model.enable_group_offload(onload_device=torch.device(device), offload_type="block_level",
                                       num_blocks_per_group=1, use_stream=True)
        for name, component in pipe.components.items():  # the small parts stay on the GPU
            if name not in DENOISERS and hasattr(component, "to") and hasattr(component, "parameters"):
                component.to(device)
    if getattr(pipe, "vae", None) is not None and hasattr(pipe.vae, "enable_tiling"):
        pipe.vae.enable_tiling()  # decode large frames in tiles: same result, a fraction of the memory
    set_attention_backend(pipe)
    log.info("placed %s with the %s profile", preset.key, profile)
    return profile


def attention_backend() -> str:
    """The fastest attention kernel installed: FlashAttention 3, then 2, then SageAttention, else PyTorch SDPA."""
    for module, backend in (("flash_attn_interface", "_flash_3"), ("flash_attn", "flash"),
                            ("sageattention", "sage")):
        if importlib.util.find_spec(module) is not None:
            return backend
    return "native"


def set_attention_backend(pipe) -> None:
    backend = os.environ.get("STUDIO_ATTENTION") or attention_backend()
    for model in denoisers(pipe):
        if hasattr(model, "set_attention_backend"):
            model.set_attention_backend(backend)


# ------------------------------------------------------------------------------------------ per request


def _cache_config(kind: str):
    from diffusers import FirstBlockCacheConfig, TaylorSeerCacheConfig

    if kind == "first-block":
        return FirstBlockCacheConfig(threshold=0.05)  # the threshold diffusers documents as a safe default
    return TaylorSeerCacheConfig()


@contextmanager
def cache_hooks(pipe, kind: str) -> Iterator[None]:
    """Reuse transformer block outputs between steps for this request only (the model stays unchanged)."""
    if kind not in CACHE_KINDS:
        raise ValueError(f"Unknown cache {kind!r}; choose one of: {', '.join(CACHE_KINDS)}.")
    models = [] if kind == "off" else [m for m in denoisers(pipe) if hasattr(m, "enable_cache")]
    for model in models:
        model.enable_cache(_cache_config(kind))
    try:
        yield
    finally:
        for model in models:
            model.disable_cache()


@dataclass
class EvaluationCount:
    calls: int = 0


@contextmanager
def count_evaluations(pipe) -> Iterator[EvaluationCount]:
    """Count denoiser forward calls (the unit of cost of a diffusion video) with forward hooks."""
    counter = EvaluationCount()

    def hook(module, args, kwargs):
        counter.calls += 1

    handles = [m.register_forward_pre_hook(hook, with_kwargs=True) for m in denoisers(pipe)]
    try:
        yield counter
    finally:
        for handle in handles:
            handle.remove()


# ------------------------------------------------------------------------------------ Spaces compilation


def compile_ahead_of_time(pipe, example_call: Callable[[], object]) -> bool:
    """On ZeroGPU with STUDIO_AOTI=1: capture one call of the transformer, export, compile and apply it.

    Must run inside a GPU window; returns False (and leaves the model as it is) anywhere else.
    """
    import spaces

    if os.environ.get("STUDIO_AOTI") != "1" or not getattr(spaces.config.Config, "zero_gpu", False):
        return False
    import torch

    with spaces.aoti_capture(pipe.transformer) as call:
        example_call()
    exported = torch.export.export(pipe.transformer, args=call.args, kwargs=call.kwargs)
    spaces.aoti_apply(spaces.aoti_compile(exported), pipe.transformer)
    return True
