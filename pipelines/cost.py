"""Pre-flight estimate of peak VRAM and seconds for a request on a named GPU (a pure function).

Reference speeds in each preset are per transformer evaluation at the preset's reference token count on an
RTX 4090, taken from the model cards (each preset's `notes` cites the figure). Other GPUs scale by the
relative throughput below; attention cost grows faster than linearly with tokens, hence the 1.3 exponent.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.presets import Preset

# Relative bf16 throughput vs RTX 4090 and memory in GB (vendor spec sheets). ZeroGPU "large" is half an H200.
GPUS = {
    "RTX 4090": (1.0, 24), "L4": (0.35, 24), "A10G": (0.4, 24), "L40S": (1.1, 48),
    "A100": (1.3, 80), "H100": (2.2, 80), "H200": (2.4, 141), "ZeroGPU": (2.4, 70),
}
DECODE_SHARE = 0.08   # VAE decode, as a share of one video's denoising time (typical for Wan at 480p-720p)
MIN_SECONDS = 10.0


@dataclass(frozen=True)
class Estimate:
    gpu: str
    vram_gb: float
    seconds: float
    evaluations: int
    fits: bool

    def line(self) -> str:
        verdict = "fits" if self.fits else "does not fit without offloading"
        return f"~{self.vram_gb:.0f} GB, ~{self.seconds:.0f} s on {self.gpu}: {verdict}"


def latent_tokens(preset: Preset, width: int, height: int, num_frames: int) -> int:
    cost = preset.cost
    latent_frames = (num_frames - 1) // cost.frames_per_token + 1
    return max(1, (width * height) // cost.pixels_per_token) * latent_frames


def transformer_evaluations(preset: Preset, steps: int, guidance_scale: float) -> int:
    cfg = preset.cost.cfg and guidance_scale > 1.0
    return steps * (2 if cfg else 1)


def estimate(preset: Preset, *, width: int, height: int, num_frames: int, steps: int,
             guidance_scale: float, gpu: str = "ZeroGPU") -> Estimate:
    speed, memory = GPUS[gpu]
    cost = preset.cost
    scale = latent_tokens(preset, width, height, num_frames) / max(1, cost.ref_tokens)
    evaluations = transformer_evaluations(preset, steps, guidance_scale)
    seconds = evaluations * cost.ref_seconds_per_step * scale ** 1.3 / speed
    seconds = max(MIN_SECONDS, seconds * (1 + DECODE_SHARE))
    vram = cost.params_b * cost.weight_bytes + cost.other_gb * max(0.25, scale)
    return Estimate(gpu, round(vram, 1), round(seconds, 1), evaluations, vram <= memory)
