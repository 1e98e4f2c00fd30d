"""Your own LoRAs from the Hub: parsed from a short text, downloaded like every model, checked against the
transformer before any GPU time, loaded as adapters for one request and unloaded after.

One LoRA per line: `owner/name`, optionally `, file.safetensors`, optionally `, strength` (default 1.0).
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pipelines import presets, runtime

MAX_LORAS = 4
STRENGTH_RANGE = (-2.0, 2.0)
DEFAULT_FILE = "pytorch_lora_weights.safetensors"  # what diffusers saves; used when a repo can't be listed
REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$")
FILE_NAME = re.compile(r"^[A-Za-z0-9_.-][A-Za-z0-9 _./-]{0,199}\.safetensors$")
ADAPTER_PREFIX = "hub_lora_"
# Transformer width (attention in_features) -> the model family it belongs to, to name a LoRA's base model when
# neither the file nor the repo does. Widths from each model's transformer config (num_attention_heads x
# attention_head_dim): Wan 2.1 1.3B 12x128, Wan 2.2 TI2V-5B 24x128, Wan 14B 40x128, LTX-2 32x128.
KNOWN_WIDTHS = {1536: "Wan 2.1 1.3B (or VACE 1.3B)", 3072: "Wan 2.2 TI2V 5B", 5120: "Wan 14B (Wan 2.1 14B, Wan 2.2 A14B)",
                4096: "LTX-2"}
METADATA_NAMES = ("base_model", "modelspec.architecture", "ss_base_model_version", "ss_sd_model_name")


@dataclass(frozen=True)
class UserLora:
    repo_id: str
    weight_name: str = ""     # "" : the repo's only .safetensors file
    strength: float = 1.0

    def line(self) -> str:
        parts = [self.repo_id] + ([self.weight_name] if self.weight_name else []) + [f"{self.strength:g}"]
        return ", ".join(parts)


def as_text(loras: tuple[UserLora, ...]) -> str:
    """The text a person types for these LoRAs (kept in a result's settings, so remix refills the field)."""
    return "\n".join(lora.line() for lora in loras)


def parse(text: str | None) -> tuple[UserLora, ...]:
    """LoRAs from the field's text; raises ValueError naming the line to fix."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    if len(lines) > MAX_LORAS:
        raise ValueError(f"{len(lines)} LoRAs were given; at most {MAX_LORAS} can be stacked. Remove some lines.")
    return tuple(_parse_line(line) for line in lines)


def _parse_line(line: str) -> UserLora:
    fields = [field.strip() for field in line.split(",")]
    repo_id, rest = fields[0], [f for f in fields[1:] if f]
    if not REPO_ID.match(repo_id) or ".." in repo_id:
        raise ValueError(f"{repo_id!r} is not a Hub repo id. Write a LoRA as owner/name, then optionally "
                         f"a file name and a strength, e.g. \"owner/my-lora, my_lora.safetensors, 0.8\".")
    weight_name, strength = "", 1.0
    for field in rest:
        try:
            strength = float(field)
            continue
        except ValueError:
            pass
        if not FILE_NAME.match(field) or ".." in field or field.startswith("/"):
            raise ValueError(f"{field!r} (for {repo_id}) is not a .safetensors file name in the repo. "
                             "Only .safetensors LoRA files can be loaded.")
        weight_name = field
    low, high = STRENGTH_RANGE
    if not low <= strength <= high:
        raise ValueError(f"The strength of {repo_id} is {strength:g}; use a value between {low:g} and {high:g}.")
    return UserLora(repo_id, weight_name, strength)


# --------------------------------------------------------------------------------------------- fetching


def _file_name(lora: UserLora) -> str:
    if lora.weight_name:
        return lora.weight_name
    try:
        from huggingface_hub import list_repo_files

        with runtime.hub_errors(lora.repo_id):
            files = [f for f in list_repo_files(lora.repo_id) if f.endswith(".safetensors")]
    except runtime.HubUnavailable:
        return DEFAULT_FILE  # offline: the cached file under diffusers' default name, if any
    if len(files) != 1:
        listed = ", ".join(files[:6]) or "none"
        raise ValueError(f"{lora.repo_id} holds {len(files)} .safetensors files ({listed}); add the one to use "
                         f"after the repo id, e.g. \"{lora.repo_id}, {files[0] if files else 'file.safetensors'}\".")
    return files[0]


def fetch(lora: UserLora) -> Path:
    """The LoRA file, downloaded once into the Hub cache like every model."""
    return runtime.fetch_file(lora.repo_id, _file_name(lora))


# --------------------------------------------------------------------------------------------- checking


def _base_layer(module):
    return getattr(module, "base_layer", module)  # a layer already wrapped by an adapter


def _declared_base(path: Path, repo_id: str) -> str:
    """The base model a LoRA says it is for: its file's metadata, else its model card (when online)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata() or {}
    for name in METADATA_NAMES:
        if metadata.get(name):
            return metadata[name]
    if presets.tiny_mode():
        return ""
    try:
        from huggingface_hub import model_info

        base = getattr(model_info(repo_id).card_data, "base_model", None)
    except Exception:  # noqa: BLE001 - the card is a nicety; the shapes decide
        return ""
    return ", ".join(base) if isinstance(base, list) else str(base or "")


def _lora_model(path: Path, lora: UserLora, widths: set[int], keys: list[str]) -> str:
    """A name for the model a LoRA was made for: what it declares, else what its layer widths and names say."""
    declared = _declared_base(path, lora.repo_id)
    if declared:
        return declared
    known = [KNOWN_WIDTHS[w] for w in sorted(widths) if w in KNOWN_WIDTHS]
    if known:
        return known[0]
    family = "a Wan model" if any(".self_attn." in key or ".cross_attn." in key for key in keys) else "another model"
    return f"{family} with layers {'/'.join(str(w) for w in sorted(widths))} wide" if widths else family


def check(pipe, preset: presets.Preset, lora: UserLora, path: Path) -> None:
    """Every layer the LoRA changes must exist in this model's transformer with the same shape; otherwise a
    ValueError naming both models. Reads the file on the CPU; nothing touches the GPU."""
    state = type(pipe).lora_state_dict(str(path.parent), weight_name=path.name)
    if isinstance(state, tuple):
        state = state[0]
    model = preset.label.split(" ·")[0]
    transformer = pipe.transformer
    missing, misfits, widths = [], [], set()
    for key, tensor in state.items():
        if tensor.ndim == 2 and (".lora_A" in key or ".lora_down" in key):
            widths.add(int(tensor.shape[1]))  # the width of the layer the LoRA reads from
        component, _, rest = key.partition(".")
        layer, _, kind = rest.rpartition(".lora_")
        if not layer:
            layer, _, kind = rest.rpartition(".")
        if component != "transformer":
            missing.append(key.split(".lora")[0])
            continue
        try:
            module = _base_layer(transformer.get_submodule(layer))
        except AttributeError:
            missing.append(layer)
            continue
        weight = getattr(module, "weight", None)
        if kind.endswith("bias") or kind == "diff_b":  # bias differences
            target = getattr(module, "bias", None)
            fits = target is not None and tuple(target.shape) == tuple(tensor.shape)
        elif kind.startswith("A") and tensor.ndim == 2:  # down-projection: reads the layer's input
            fits = weight is not None and weight.ndim == 2 and tensor.shape[1] == weight.shape[1]
        elif kind.startswith("B") and tensor.ndim == 2:  # up-projection: writes the layer's output
            fits = weight is not None and weight.ndim == 2 and tensor.shape[0] == weight.shape[0]
        else:  # full-weight differences
            fits = weight is not None and tuple(weight.shape) == tuple(tensor.shape)
        if not fits:
            misfits.append(layer)
    if not state:
        raise ValueError(f"{lora.repo_id}/{path.name} holds no LoRA layers diffusers can read for {model}.")
    if missing or misfits:
        made_for = _lora_model(path, lora, widths, list(state))
        sample = ", ".join(list(dict.fromkeys(misfits or missing))[:3])
        raise ValueError(f"The LoRA {lora.repo_id} was made for {made_for}, not for {model}: "
                         f"{len(set(missing + misfits))} of its layers don't fit (e.g. {sample}). Pick a LoRA "
                         f"made for {model}, or the model it was made for.")


def prepare(pipe, preset: presets.Preset, loras: tuple[UserLora, ...]) -> list[Path]:
    """Download and check every LoRA of a request (outside the GPU window); returns their files."""
    if loras and not hasattr(pipe, "load_lora_weights"):
        raise ValueError(f"{preset.label.split(' ·')[0]} can't take LoRAs; remove them or pick another model.")
    files = [fetch(lora) for lora in loras]
    for lora, path in zip(loras, files):
        check(pipe, preset, lora, path)
    return files


@contextmanager
def applied(pipe, preset: presets.Preset, loras: tuple[UserLora, ...]):
    """The request's LoRAs as adapters on the shared pipeline for the duration, gone afterwards."""
    if not loras:
        yield
        return
    files = prepare(pipe, preset, loras)
    before = list(pipe.get_active_adapters())  # adapters someone else keeps (none when distill LoRAs are fused)
    names = []
    try:
        for index, path in enumerate(files):
            name = f"{ADAPTER_PREFIX}{index}"
            pipe.load_lora_weights(str(path.parent), weight_name=path.name, adapter_name=name)
            names.append(name)
        pipe.set_adapters(before + names, [1.0] * len(before) + [lora.strength for lora in loras])
        yield
    finally:
        if names:
            pipe.delete_adapters(names)
            if before:
                pipe.set_adapters(before)
            elif not any(pipe.get_list_adapters().values()):
                pipe.unload_lora_weights()  # plain layers again: the next request runs the base model exactly
