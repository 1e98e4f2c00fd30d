"""Model presets as data: one JSON file per task beside this module.

Each entry names a real Hub repo and diffusers pipeline class, the model's recommended defaults, its limits,
a cost model, and the tiny builder that stands in for it in the offline smoke mode. In tiny mode the same
preset keeps its class and code path but reads the tiny model and the small `tiny` defaults.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

HERE = Path(__file__).parent

ASPECTS = {"16:9": 16 / 9, "9:16": 9 / 16, "1:1": 1.0, "4:3": 4 / 3, "3:4": 3 / 4}


def tiny_mode() -> bool:
    return os.environ.get("STUDIO_TINY", "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Defaults:
    width: int
    height: int
    num_frames: int
    fps: int
    steps: int
    guidance_scale: float


@dataclass(frozen=True)
class Limits:
    min_frames: int
    max_frames: int
    frame_step: int          # valid counts are frame_step * k + 1 (the VAE's temporal compression)
    size_multiple: int       # VAE spatial compression x transformer patch size
    max_steps: int = 100


@dataclass(frozen=True)
class Cost:
    """Inputs of the estimator in pipelines/cost.py; figures cite their source in the JSON `notes`."""

    params_b: float                  # denoiser parameters, billions
    weight_bytes: float = 2.0        # bf16
    other_gb: float = 12.0           # text encoder, VAE, activations at the reference size
    pixels_per_token: int = 256      # (spatial compression x patch)^2
    frames_per_token: int = 4        # temporal compression
    ref_seconds_per_step: float = 1.0  # measured at the reference size on the reference GPU
    ref_tokens: int = 1


@dataclass(frozen=True)
class Licence:
    """The model's licence as its card states it; `commercial` is "yes" (permissive), "conditions" (a community
    licence with revenue, user-count or territory limits) or "no" (non-commercial)."""

    name: str
    url: str
    commercial: str

    def as_dict(self) -> dict:
        return {"name": self.name, "url": self.url, "commercial": self.commercial}


COMMERCIAL_VALUES = ("yes", "conditions", "no")


def commercial_only() -> bool:
    """STUDIO_COMMERCIAL_ONLY=1: offer only models whose licence allows commercial use without conditions."""
    return os.environ.get("STUDIO_COMMERCIAL_ONLY", "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Preset:
    key: str
    task: str
    label: str
    repo_id: str
    pipeline_class: str
    tiny_builder: str
    defaults: Defaults
    limits: Limits
    cost: Cost
    load: dict = field(default_factory=dict)      # extra from_pretrained options (e.g. fp32 VAE)
    call: dict = field(default_factory=dict)      # fixed extra __call__ kwargs of this model
    loras: tuple = ()                             # few-step distill LoRAs fused at load: repo_id, weight_name, into
    tiny_lora_builder: str = ""
    reference: dict = field(default_factory=dict)  # the model's own recommended settings, for comparisons
    tables: dict = field(default_factory=dict)     # task-specific tables (e.g. input rules), tiny values applied
    notes: str = ""
    tiny: bool = False
    licence: Licence = Licence("unknown", "", "no")

    @property
    def offered(self) -> bool:
        """False when the operator limits the server to commercially usable models and this one is not."""
        return not commercial_only() or self.licence.commercial == "yes"

    def table(self, name: str) -> dict:
        """A task-specific table of this preset's JSON entry; raises KeyError naming it when absent."""
        if name not in self.tables:
            raise KeyError(f"Preset {self.key} has no {name!r} table.")
        return dict(self.tables[name])

    def size_for_aspect(self, aspect: float) -> tuple[int, int]:
        """Width and height near the preset's pixel area with the given aspect, snapped to the model grid."""
        w0, h0 = self.defaults.width, self.defaults.height
        if abs(aspect - w0 / h0) < 0.05:  # the model's own sizes win where they are close (832x480 for "16:9")
            return w0, h0
        if abs(aspect - h0 / w0) < 0.05:
            return h0, w0
        area = w0 * h0
        m = self.limits.size_multiple
        height = math.sqrt(area / aspect)
        width = height * aspect
        return max(m, round(width / m) * m), max(m, round(height / m) * m)

    def valid_frames(self, n: int) -> int:
        """Nearest frame count the model accepts (frame_step * k + 1), inside the limits."""
        step = self.limits.frame_step
        snapped = round((n - 1) / step) * step + 1
        return min(max(snapped, self.limits.min_frames), self.limits.max_frames)


def _from_json(task: str, key: str, raw: dict, tiny: bool) -> Preset:
    defaults, limits, call = dict(raw["defaults"]), dict(raw["limits"]), dict(raw.get("call", {}))
    if tiny:  # the tiny model keeps the class and code path, with small sizes
        for table, name in ((defaults, "defaults"), (limits, "limits"), (call, "call")):
            table.update(raw["tiny"].get(name, {}))
    known = {"defaults", "limits", "call", "load", "cost", "tiny", "reference"}
    tables = {name: dict(value) for name, value in raw.items() if isinstance(value, dict) and name not in known}
    if tiny:
        for name, table in tables.items():
            table.update(raw["tiny"].get(name, {}))
    return Preset(
        key=key, task=task, label=raw["label"], repo_id=raw["repo_id"], pipeline_class=raw["pipeline_class"],
        tiny_builder=raw["tiny"]["builder"], defaults=Defaults(**defaults), limits=Limits(**limits),
        cost=Cost(**raw.get("cost", {"params_b": 1.0})), load=raw.get("load", {}), call=call,
        loras=tuple(raw.get("loras", ())), tiny_lora_builder=raw["tiny"].get("lora_builder", ""),
        reference=raw.get("reference", {}), tables=tables,
        notes=raw.get("notes", ""), tiny=tiny, licence=Licence(**raw["licence"]),
    )


@cache
def _load(task: str, tiny: bool) -> dict[str, Preset]:
    raw = json.loads((HERE / f"{task}.json").read_text(encoding="utf-8"))
    return {key: _from_json(task, key, entry, tiny) for key, entry in raw.items() if not key.startswith("_")}


def presets(task: str) -> dict[str, Preset]:
    """The presets this server offers for a task, in file order (the first is the default), resolved for the
    current mode; with STUDIO_COMMERCIAL_ONLY=1 the ones whose licence limits commercial use are left out."""
    return {key: preset for key, preset in _load(task, tiny_mode()).items() if preset.offered}


def get(task: str, key: str | None) -> Preset:
    table = presets(task)
    if key is None or key == "":
        return next(iter(table.values()))
    if key not in table:
        every = _load(task, tiny_mode())
        if key in every:  # known, but its licence keeps it off this server
            lic = every[key].licence
            raise ValueError(f"The model {key!r} is not offered on this server: its licence ({lic.name}) limits "
                             f"commercial use and this server offers only models free for commercial use. "
                             f"Choose one of: {', '.join(table)}.")
        raise ValueError(f"Unknown model preset {key!r} for {task}; choose one of: {', '.join(table)}.")
    return table[key]


def licence_of(task: str, key: str) -> dict:
    """The licence of a preset as plain data (for result metadata and share pages); {} when unknown."""
    preset = _load(task, tiny_mode()).get(key)
    return preset.licence.as_dict() if preset else {}


@dataclass(frozen=True)
class AuxModel:
    """A helper model a task needs besides its main pipeline (depth, pose, face, speech...)."""

    repo_id: str
    tiny_builder: str
    notes: str = ""


def aux_models(task: str) -> dict[str, AuxModel]:
    """The `_models` table of a task's JSON: name -> repo id and tiny builder."""
    raw = json.loads((HERE / f"{task}.json").read_text(encoding="utf-8")).get("_models", {})
    return {name: AuxModel(entry["repo_id"], entry["tiny"], entry.get("notes", "")) for name, entry in raw.items()}
