"""Tiny stand-ins for LoRAs people bring from the Hub, in the format most Wan LoRAs ship in: the original Wan
key names (`diffusion_model.blocks.N.self_attn.q.lora_down.weight` / `lora_up`), one safetensors file."""

from __future__ import annotations

from pathlib import Path

LAYERS = ("self_attn.q", "self_attn.k", "self_attn.v", "self_attn.o", "cross_attn.q", "cross_attn.o")


def wan_lora(path: Path, width: int = 24, blocks: int = 2, rank: int = 4, seed: int = 1, base_model: str = "") -> Path:
    """A Wan LoRA for a transformer `width` wide (the tiny Wan models are 24 wide; Wan 2.1 1.3B is 1536).

    Random, non-zero up-projections, so loading it visibly changes the output. `base_model` goes into the
    file's metadata, as some trainers write it.
    """
    import torch
    from safetensors.torch import save_file

    generator = torch.Generator().manual_seed(seed)
    tensors = {}
    for block in range(blocks):
        for layer in LAYERS:
            key = f"diffusion_model.blocks.{block}.{layer}"
            tensors[f"{key}.lora_down.weight"] = torch.randn(rank, width, generator=generator) * 0.5
            tensors[f"{key}.lora_up.weight"] = torch.randn(width, rank, generator=generator) * 0.5
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata={"format": "pt", **({"base_model": base_model} if base_model else {})})
    return path
