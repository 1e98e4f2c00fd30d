"""Live preview: a cheap picture of the video while it denoises, without running the VAE.

Each step's latents give an estimate of the finished latents (the flow-matching x0), and a linear projection per
latent space turns a few of its frames into RGB. The projections are the published ones in
presets/latent_rgb.json (sources there); a latent space with no published projection (the tiny test models')
gets a fixed projection of the right channel count, so the same code runs everywhere.
"""

from __future__ import annotations

import json
import time
from functools import cache
from pathlib import Path

import numpy as np

TABLE = Path(__file__).parent / "presets" / "latent_rgb.json"
MAX_FRAMES = 4          # latent frames shown side by side, evenly spaced through the clip
MIN_HEIGHT = 96         # small latents are enlarged (nearest neighbour) to at least this many pixels
SPENT = {"seconds": 0.0, "pictures": 0}  # time spent making previews (read by the benchmark)


@cache
def projections() -> dict[str, dict]:
    return {name: entry for name, entry in json.loads(TABLE.read_text(encoding="utf-8")).items()
            if not name.startswith("_")}


def latent_channels(pipe) -> int:
    config = pipe.vae.config
    return int(getattr(config, "z_dim", None) or getattr(config, "latent_channels"))


def family(pipe) -> str:
    """Which published projection fits this pipeline's latent space ("" when none does)."""
    channels = latent_channels(pipe)
    if type(pipe).__name__.startswith("Kandinsky5"):
        return ""  # the HunyuanVideo latent space: no published projection in the table yet
    if type(pipe).__name__.startswith("LTX"):
        name = "ltx"
    else:
        name = "wan2.2" if channels == 48 else "wan2.1"
    return name if projections()[name]["channels"] == channels else ""


def projection(pipe):
    """(channels x 3 matrix, bias) as float32 tensors for this pipeline's latents."""
    import torch

    name = family(pipe)
    if name:
        entry = projections()[name]
        return torch.tensor(entry["factors"]), torch.tensor(entry["bias"])
    channels = latent_channels(pipe)  # an unpublished latent space: a fixed projection, same every run
    matrix = torch.randn(channels, 3, generator=torch.Generator().manual_seed(0)) / channels ** 0.5
    return matrix, torch.zeros(3)


class Previewer:
    """Turns the latents seen after each denoising step into a small RGB strip (H, W, 3) uint8."""

    def __init__(self, pipe, call_kwargs: dict):
        self.pipe = pipe
        self.kwargs = call_kwargs
        self.matrix, self.bias = projection(pipe)
        self.previous = None

    def _unpacked(self, latents):
        """LTX-2 hands packed tokens (B, tokens, C) to the callback; Wan the video latents (B, C, F, H, W);
        Kandinsky 5 channels last (B, F, H, W, C), its conditioning channels after the latent ones."""
        if type(self.pipe).__name__.startswith("Kandinsky5"):
            return latents[..., :latent_channels(self.pipe)].permute(0, 4, 1, 2, 3)
        if latents.ndim == 5:
            return latents
        pipe = self.pipe
        frames = (self.kwargs["num_frames"] - 1) // pipe.vae_temporal_compression_ratio + 1
        height = self.kwargs["height"] // pipe.vae_spatial_compression_ratio
        width = self.kwargs["width"] // pipe.vae_spatial_compression_ratio
        return pipe._unpack_latents(latents, frames, height, width, pipe.transformer_spatial_patch_size,
                                    pipe.transformer_temporal_patch_size)

    def _estimate(self, latents):
        """The finished latents as the sampler sees them now: x0 = x - sigma * v, with the velocity v read
        from the last two steps (exact for Euler, close for UniPC); the raw latents before that."""
        previous, self.previous = self.previous, latents
        scheduler = self.pipe.scheduler
        try:
            index = int(scheduler.step_index)
            sigma, sigma_before = float(scheduler.sigmas[index]), float(scheduler.sigmas[index - 1])
        except (AttributeError, IndexError, TypeError):
            return latents
        if previous is None or previous.shape != latents.shape or sigma_before == sigma:
            return latents
        velocity = (latents - previous) / (sigma - sigma_before)
        return latents - sigma * velocity

    def __call__(self, latents) -> np.ndarray:
        start = time.perf_counter()
        try:
            return self._picture(latents)
        finally:
            SPENT["seconds"] += time.perf_counter() - start
            SPENT["pictures"] += 1

    def _picture(self, latents) -> np.ndarray:
        import torch

        with torch.no_grad():
            latents = self._unpacked(latents.detach()).float()
            x0 = self._estimate(latents)[0]                              # (C, F, H, W)
            count = x0.shape[1]
            picks = sorted({round(i * (count - 1) / max(1, MAX_FRAMES - 1)) for i in range(min(count, MAX_FRAMES))})
            chosen = x0[:, picks]                                        # (C, k, H, W)
            rgb = torch.einsum("cfhw,cr->fhwr", chosen, self.matrix.to(chosen.device)) + self.bias.to(chosen.device)
            pixels = ((rgb + 1.0) / 2.0).clamp(0, 1).mul(255).to(torch.uint8).cpu().numpy()
        gap = np.full((pixels.shape[1], 2, 3), 255, dtype=np.uint8)
        strip = np.concatenate([part for frame in pixels for part in (frame, gap)][:-1], axis=1)
        scale = max(1, min(8, -(-MIN_HEIGHT // strip.shape[0])))
        return strip.repeat(scale, axis=0).repeat(scale, axis=1)
