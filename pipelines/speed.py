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
TAYLORSEER_ATTENTION = r"^(transformer_)?blocks\.\d+\.attn\d*$"  # the attention modules whose outputs TaylorSeer predicts


def denoisers(pipe) -> list:
    return [m for name in DENOISERS if (m := getattr(pipe, name, None)) is not None]


# ---------------------------------------------------------------------------------------------- LoRAs


def fuse_loras(pipe, preset: Preset, source: Callable[[dict], tuple[str, str]]) -> None:
    """Load each LoRA of the preset into its transformer, fuse it at its scale, drop the adapter layers.

    Fused weights cost nothing per step; `source(lora)` gives (folder, file name) from the Hub or the tiny build.
    Every file is checked first (pipelines/lora_files.py): a key that would not reach the model raises.
    """
    from pipelines import lora_files

    for index, lora in enumerate(preset.loras):
        folder, weight_name = source(lora)
        target = lora.get("into", "transformer")
        name = f"distill_{index}"
        state = lora_files.read_checked(pipe, folder, weight_name, target)
        pipe.load_lora_weights(state, adapter_name=name,
                               **({"load_into_transformer_2": True} if target == "transformer_2" else {}))
        pipe.fuse_lora(components=[target], lora_scale=float(lora.get("scale", 1.0)), adapter_names=[name])
    if preset.loras:
        pipe.unload_lora_weights()


# ---------------------------------------------------------------------------------------- placement


def free_gpu_gb() -> float:
    import torch

    free, _ = torch.cuda.mem_get_info()
    return free / 2**30


def gpu_memory_gb(preset: Preset) -> float:
    """Memory of the GPU this preset runs on. On ZeroGPU there is no GPU outside a request (spaces patches
    is_available and the device properties, not mem_get_info, which would touch CUDA in the main process), so it
    is the memory of the size the preset asks for (pipelines/zerogpu.py)."""
    from pipelines import zerogpu

    if zerogpu.on_zero_gpu():
        return zerogpu.size_memory_gb(zerogpu.gpu_size(preset))
    return free_gpu_gb()


def offload_for(preset: Preset) -> str:
    return os.environ.get("STUDIO_OFFLOAD") or cost.offload_profile(preset, gpu_memory_gb(preset))


def place(pipe, preset: Preset, device: str) -> str:
    """Put the pipeline on the device with the fastest offload profile that fits (STUDIO_OFFLOAD overrides)."""
    import torch

    if device != "cuda":
        pipe.to(device)
        return "cpu"
    profile = offload_for(preset)
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
    set_attention_backend(pipe, preset)
    log.info("placed %s with the %s profile", preset.key, profile)
    return profile


# The fastest kernels first. None of these three accepts an attention mask: diffusers 0.42.1
# models/attention_dispatch.py raises "`attn_mask` is not supported" in _flash_attention, _flash_attention_3
# and _sage_attention. PyTorch SDPA ("native") takes any mask.
FAST_BACKENDS = (("flash_attn_interface", "_flash_3"), ("flash_attn", "flash"), ("sageattention", "sage"))
MASKLESS_BACKENDS = frozenset(backend for _, backend in FAST_BACKENDS)


def attention_takes_mask(preset: Preset) -> bool:
    """Whether the model family's attention calls pass a mask. LTX-2 masks the padded text tokens in its
    cross-attention on every step (diffusers transformer_ltx2.py: encoder_attention_mask reaches
    dispatch_attention_fn as attn_mask); Wan pads its text with zeros and passes no mask (transformer_wan.py).
    HunyuanVideo 1.5 masks its variable-length text too (diffusers docs: a padding-aware kernel)."""
    return preset.pipeline_class.startswith(("LTX2", "HunyuanVideo15"))


def installed_backends() -> list[str]:
    return [backend for module, backend in FAST_BACKENDS if importlib.util.find_spec(module) is not None]


def attention_backend(preset: Preset, installed: list[str] | None = None, forced: str | None = None) -> str:
    """The fastest attention kernel this model family can use: FA3, FA2, SageAttention, else PyTorch SDPA.

    `forced` (STUDIO_ATTENTION) wins unless the family passes masks the forced kernel cannot take."""
    needs_mask = attention_takes_mask(preset)
    if forced:
        if needs_mask and forced in MASKLESS_BACKENDS:
            log.warning("STUDIO_ATTENTION=%s takes no attention mask; %s needs one, using native", forced,
                        preset.key)
            return "native"
        return forced
    for backend in installed_backends() if installed is None else installed:
        if not (needs_mask and backend in MASKLESS_BACKENDS):
            return backend
    return "native"


def set_attention_backend(pipe, preset: Preset) -> str:
    if preset.pipeline_class.startswith("WanAnimate2"):
        return "flex"  # its in-context attention is a flex BlockMask (transformer_wan_animate_2.py): left as is
    backend = attention_backend(preset, forced=os.environ.get("STUDIO_ATTENTION") or None)
    for model in denoisers(pipe):
        if hasattr(model, "set_attention_backend"):
            model.set_attention_backend(backend)
    return backend


# ------------------------------------------------------------------------------------------ per request


def _cache_config(kind: str):
    from diffusers import FirstBlockCacheConfig, TaylorSeerCacheConfig

    if kind == "first-block":
        return FirstBlockCacheConfig(threshold=0.05)  # the threshold diffusers documents as a safe default
    # diffusers' default patterns (re.fullmatch of "^blocks.*attn") miss Wan's and LTX-2's "blocks.N.attn1" and
    # "attn2", so on these models the default would hook nothing; name their attention modules explicitly.
    return TaylorSeerCacheConfig(cache_identifiers=[TAYLORSEER_ATTENTION])


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
    """Count transformer passes (the unit of cost of a diffusion video) with forward hooks.

    A transformer call counts once per sample in its batch: LTX-2 batches the conditional and unconditional
    passes into one call of batch 2, which costs what Wan's two separate calls do. A UNet call (lip-sync's
    one-step UNet over a batch of frames) counts once.
    """
    counter = EvaluationCount()

    def hook_for(per_sample: bool):
        def hook(module, args, kwargs):
            sample = kwargs.get("hidden_states", args[0] if args else None)
            counter.calls += int(sample.shape[0]) if per_sample and hasattr(sample, "shape") else 1

        return hook

    handles = [model.register_forward_pre_hook(hook_for(name != "unet"), with_kwargs=True)
               for name in DENOISERS if (model := getattr(pipe, name, None)) is not None]
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
