"""Reading a LoRA file and proving every weight in it lands on the model before it is fused.

The LightX2V / Lightning files keep the original Wan key names (`diffusion_model.blocks.N.self_attn.q.lora_down
.weight`, `.alpha`, `.diff_b` biases, `.diff` full deltas, `head.head.diff`); diffusers converts them
(loaders/lora_conversion_utils.py, _convert_non_diffusers_wan_lora_to_diffusers) and silently drops what it does
not map: norm `.diff` keys (the converter's note says they are zero) and any other remaining `.diff` key (logged
at INFO level only). A file whose weights would not all arrive is refused here, loudly, instead of giving a model
that is quietly not the distilled one.
"""

from __future__ import annotations

from pathlib import Path

ORIGINAL_PREFIX = "diffusion_model."
PARTS = ("lora_A.weight", "lora_B.weight", "lora_B.bias")


class LoraMismatch(ValueError):
    """A LoRA file has weights that would not reach the model (or the model has no layer for them)."""


def dropped_by_conversion(raw_keys) -> list[str]:
    """Original-format keys the diffusers Wan conversion drops: norm deltas and unmapped full deltas."""
    dropped = []
    for key in raw_keys:
        name = key.removeprefix(ORIGINAL_PREFIX)
        if name.endswith((".diff", ".diff_b")) and "norm" in name:
            dropped.append(key)
        elif name.endswith(".diff") and name != "head.head.diff":
            dropped.append(key)
    return sorted(dropped)


def _is_zero(tensor) -> bool:
    return not bool(tensor.abs().max() > 0) if tensor.numel() else True


def problems(raw: dict, converted: dict, model, target: str) -> list[str]:
    """What would go wrong loading `converted` (from the file's `raw` state dict) into `model`; [] if nothing."""
    import torch

    found = []
    for key in dropped_by_conversion(raw):
        if not _is_zero(raw[key]):
            found.append(f"{key} carries a weight change that the diffusers loader drops")
    layers: dict[str, dict] = {}
    for key, value in converted.items():
        name = key.removeprefix(f"{target}.").removeprefix("transformer.")
        part = next((p for p in PARTS if name.endswith("." + p)), None)
        if part is None:
            found.append(f"{key} is not a LoRA weight (lora_A / lora_B)")
            continue
        layers.setdefault(name[: -len(part) - 1], {})[part] = value
    for path, parts in sorted(layers.items()):
        try:
            layer = model.get_submodule(path)
        except AttributeError:
            found.append(f"{path}: the {target} has no such layer")
            continue
        if not isinstance(layer, torch.nn.Linear):
            found.append(f"{path}: a LoRA on a {type(layer).__name__}, not a linear layer")
            continue
        down, up = parts.get("lora_A.weight"), parts.get("lora_B.weight")
        if down is None or up is None:
            found.append(f"{path}: {'lora_A' if down is None else 'lora_B'} is missing")
            continue
        if down.shape[1] != layer.in_features or up.shape[0] != layer.out_features or up.shape[1] != down.shape[0]:
            found.append(f"{path}: LoRA {tuple(up.shape)} x {tuple(down.shape)} does not fit "
                         f"{layer.out_features} x {layer.in_features}")
    if not layers:
        found.append(f"no LoRA weight of the file matches the {target}")
    return found


def read_checked(pipe, folder: str, weight_name: str, target: str) -> dict:
    """The file's state dict converted to diffusers names, after proving it fits `pipe.<target>`.

    Raises LoraMismatch naming the first offending keys (file name only, never a server path)."""
    from safetensors.torch import load_file

    raw = load_file(str(Path(folder) / weight_name))
    converted = type(pipe).lora_state_dict(dict(raw))
    if isinstance(converted, tuple):  # some loaders also return metadata
        converted = converted[0]
    found = problems(raw, converted, getattr(pipe, target), target)
    if found:
        shown = "; ".join(found[:5]) + (f"; and {len(found) - 5} more" if len(found) > 5 else "")
        raise LoraMismatch(f"The LoRA file {Path(weight_name).name} does not fit the {target}: {shown}.")
    return converted
