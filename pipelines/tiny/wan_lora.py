"""Tiny stand-ins for the Wan distill LoRA files, in the key layout of the real single files.

Original Wan module names under `diffusion_model.` (not diffusers names), as the LightX2V / Lightning releases ship
them and as diffusers' _convert_non_diffusers_wan_lora_to_diffusers reads them:

- per block, `self_attn.{q,k,v,o}`, `cross_attn.{q,k,v,o}`, `ffn.{0,2}`: `lora_down.weight` (rank x in),
  `lora_up.weight` (out x rank), optionally `alpha` (scale alpha / rank; the Lightning Seko files have it), and in
  the LightX2V distill files `diff_b` (a bias delta) plus zero `norm_q.diff` / `norm_k.diff` (the converter drops
  norm deltas, noting they are zero);
- LightX2V distill files also carry `head.head.diff` (a full delta of the output projection, read as a LoRA with an
  identity up-matrix) with `head.head.diff_b`, and `text_embedding.{0,2}`, `time_embedding.{0,2}`,
  `time_projection.1` LoRAs with `diff_b`.

The up-projections are random (not zero as in a fresh LoRA) so fusing visibly changes the weights.
"""

from __future__ import annotations

PREFIX = "diffusion_model."
ATTENTION = {"self_attn": "attn1", "cross_attn": "attn2"}
PROJECTIONS = {"q": "to_q", "k": "to_k", "v": "to_v", "o": "to_out.0"}
FFN = {"ffn.0": "ffn.net.0.proj", "ffn.2": "ffn.net.2"}
EMBEDDINGS = {"text_embedding.0": "condition_embedder.text_embedder.linear_1",
              "text_embedding.2": "condition_embedder.text_embedder.linear_2",
              "time_embedding.0": "condition_embedder.time_embedder.linear_1",
              "time_embedding.2": "condition_embedder.time_embedder.linear_2",
              "time_projection.1": "condition_embedder.time_proj"}


def _lora(state: dict, name: str, layer, rank: int, alpha: float | None, bias: bool, generator) -> None:
    import torch

    state[f"{PREFIX}{name}.lora_down.weight"] = torch.randn(rank, layer.in_features, generator=generator) * 0.1
    state[f"{PREFIX}{name}.lora_up.weight"] = torch.randn(layer.out_features, rank, generator=generator) * 0.1
    if alpha is not None:
        state[f"{PREFIX}{name}.alpha"] = torch.tensor(float(alpha))
    if bias:
        state[f"{PREFIX}{name}.diff_b"] = torch.randn(layer.out_features, generator=generator) * 0.01


def state_dict(transformer, *, rank: int, alpha: float | None, distill_extras: bool, seed: int = 1) -> dict:
    """A LoRA for every block of `transformer` in original Wan names; `distill_extras` adds the LightX2V extras."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    state: dict = {}
    for index, block in enumerate(transformer.blocks):
        for original, attention in ATTENTION.items():
            for short, projection in PROJECTIONS.items():
                _lora(state, f"blocks.{index}.{original}.{short}", block.get_submodule(f"{attention}.{projection}"),
                      rank, alpha, distill_extras, generator)
            if distill_extras:
                for norm in ("norm_q", "norm_k"):
                    width = block.get_submodule(f"{attention}.{norm}").weight.shape[0]
                    state[f"{PREFIX}blocks.{index}.{original}.{norm}.diff"] = torch.zeros(width)
        for original, module in FFN.items():
            _lora(state, f"blocks.{index}.{original}", block.get_submodule(module), rank, alpha, distill_extras,
                  generator)
    if distill_extras:
        for original, module in EMBEDDINGS.items():
            _lora(state, original, transformer.get_submodule(module), rank, alpha, True, generator)
        head = transformer.proj_out
        state[f"{PREFIX}head.head.diff"] = torch.randn(head.out_features, head.in_features, generator=generator) * 0.01
        state[f"{PREFIX}head.head.diff_b"] = torch.randn(head.out_features, generator=generator) * 0.01
    return state


def save(state: dict, path) -> None:
    from safetensors.torch import save_file

    save_file(state, str(path))
