"""Pre-flight estimate of peak VRAM and seconds for a request on a named GPU (a pure function).

Reference speeds in each preset are per transformer evaluation at the preset's reference token count on an
RTX 4090, taken from the model cards (each preset's `notes` cites the figure). Other GPUs scale by the
relative throughput below; attention cost grows faster than linearly with tokens, hence the 1.3 exponent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pipelines.presets import Preset

# Relative bf16 throughput vs RTX 4090 and memory in GB (vendor spec sheets). ZeroGPU "large" is half an H200.
GPUS = {
    "RTX 4090": (1.0, 24), "L4": (0.35, 24), "A10G": (0.4, 24), "L40S": (1.1, 48),
    "A100": (1.3, 80), "H100": (2.2, 80), "H200": (2.4, 141), "ZeroGPU": (2.4, 70),
}
DECODE_SHARE = 0.08   # VAE decode, as a share of one video's denoising time (typical for Wan at 480p-720p)
MIN_SECONDS = 15  # ZeroGPU start-up overhead for the shortest requests


@dataclass(frozen=True)
class Estimate:
    gpu: str
    vram_gb: float       # peak with everything on the GPU
    seconds: float
    evaluations: int     # transformer forward passes for the whole video
    profile: str         # the offload profile that fits this GPU

    @property
    def fits(self) -> bool:
        return self.profile == "gpu"

    def line(self) -> str:
        verdict = "fits" if self.fits else f"fits with {self.profile} offload (slower)"
        return f"~{self.vram_gb:.0f} GB, ~{self.seconds:.0f} s on {self.gpu}: {verdict}"


def latent_tokens(preset: Preset, width: int, height: int, num_frames: int) -> int:
    cost = preset.cost
    latent_frames = (num_frames - 1) // cost.frames_per_token + 1
    return max(1, (width * height) // cost.pixels_per_token) * latent_frames


# What the LTX-2 pipelines' __call__ runs when a preset leaves a guidance knob unset (diffusers 0.42.1
# pipelines/ltx2/pipeline_ltx2.py and pipeline_ltx2_condition.py signatures; the same values as Lightricks/LTX-2
# packages/ltx-pipelines/src/ltx_pipelines/utils/constants.py LTX_2_PARAMS: audio cfg 7, stg 1, modality 3).
LTX2_GUIDANCE_DEFAULTS = {"audio_guidance_scale": 7.0, "stg_scale": 1.0, "audio_stg_scale": 1.0,
                          "modality_scale": 3.0, "audio_modality_scale": 3.0}


def passes_per_step(preset: Preset, guidance_scale: float) -> int:
    """Transformer passes (samples through the denoiser) one denoising step of this preset runs.

    Wan: a conditional pass, plus an unconditional one when guidance is above 1. LTX-2: the conditional and
    unconditional passes batched together (CFG on when video or audio guidance is above 1), one more with
    spatio-temporal guidance (a perturbed pass, STG scale above 0) and one more with modality guidance (the
    modalities isolated, scale above 1): 4 per step at the LTX-2.0 defaults. The `or` fallbacks mirror
    pipeline_ltx2_condition.py (an audio scale of 0 or None means "use the video one").
    """
    if not preset.pipeline_class.startswith("LTX2"):
        return 2 if guidance_scale > 1.0 else 1
    call = {**LTX2_GUIDANCE_DEFAULTS, **preset.call}
    audio_guidance = call["audio_guidance_scale"] or guidance_scale
    stg, modality = call["stg_scale"], call["modality_scale"]
    audio_stg, audio_modality = call["audio_stg_scale"] or stg, call["audio_modality_scale"] or modality
    passes = 2 if (guidance_scale > 1.0 or audio_guidance > 1.0) else 1
    passes += 1 if (stg > 0.0 or audio_stg > 0.0) else 0
    passes += 1 if (modality > 1.0 or audio_modality > 1.0) else 0
    return passes


def refine_steps(preset: Preset) -> int:
    """Stage-2 steps of a two-stage preset (at full size, guidance off, after the latent upsampler); else 0."""
    return len(preset.tables.get("upsampler", {}).get("stage_2_sigmas", ()))


def transformer_evaluations(preset: Preset, steps: int, guidance_scale: float) -> int:
    """Transformer passes for the whole video (bench/run.py counts the same figure on the tiny models): a
    two-stage preset adds its refine steps, one pass each (Lightricks/LTX-2 ltx_pipelines/distilled.py)."""
    return steps * passes_per_step(preset, guidance_scale) + refine_steps(preset) * passes_per_step(preset, 1.0)


def estimate(preset: Preset, *, width: int, height: int, num_frames: int, steps: int,
             guidance_scale: float, gpu: str = "ZeroGPU") -> Estimate:
    if gpu not in GPUS:
        raise ValueError(f"Unknown GPU {gpu!r}; known: {', '.join(GPUS)}.")
    speed, memory = GPUS[gpu]
    cost = preset.cost
    scale = latent_tokens(preset, width, height, num_frames) / max(1, cost.ref_tokens)
    evaluations = transformer_evaluations(preset, steps, guidance_scale)
    refine = refine_steps(preset) * passes_per_step(preset, 1.0)
    if refine:  # stage 1 runs at half the width and height, stage 2 at full size
        first = latent_tokens(preset, width // 2, height // 2, num_frames) / max(1, cost.ref_tokens)
        weighted = (evaluations - refine) * first ** 1.3 + refine * scale ** 1.3
    else:
        weighted = evaluations * scale ** 1.3
    seconds = weighted * cost.ref_seconds_per_step / speed * (1 + DECODE_SHARE)
    return Estimate(gpu, round(peak_vram(preset, "gpu", scale), 1), round(seconds, 1), evaluations,
                    offload_profile(preset, memory, scale))


# ---------------------------------------------------------------------------------------- offload profiles

# From least to most memory-saving; each trades speed for memory.
PROFILES = ("gpu", "model", "fp8", "group")


def peak_vram(preset: Preset, profile: str, scale: float = 1.0) -> float:
    """Peak GB under an offload profile. Activations grow with the latent tokens (`scale` of the reference)."""
    cost = preset.cost
    weights = cost.params_b * cost.weight_bytes
    activations = cost.other_gb * max(0.25, scale) * 0.4  # the rest of other_gb is text encoder + VAE weights
    others = cost.other_gb * 0.6
    if profile == "gpu":
        return weights + others + activations
    if profile == "model":  # one component on the GPU at a time: the transformer dominates
        return max(weights, others) + activations
    if profile == "fp8":  # weights stored in 8 bits, upcast layer by layer; still one component at a time
        return max(weights / 2, others) + activations
    return weights * 0.1 + activations  # group offload: a few blocks resident, streamed in


def offload_profile(preset: Preset, free_gb: float, scale: float = 1.0, margin: float = 0.9) -> str:
    """The fastest profile whose peak fits in `margin` of the free memory (group offload as the last resort)."""
    for profile in PROFILES:
        if peak_vram(preset, profile, scale) <= free_gb * margin:
            return profile
    return PROFILES[-1]


def zerogpu_duration(estimate: Estimate) -> int:
    """Seconds to reserve on ZeroGPU: never below the estimate, with a margin for variance."""
    return max(MIN_SECONDS, int(math.ceil(estimate.seconds * 1.25)) + 5)
