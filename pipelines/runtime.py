"""The one place that owns devices, the GPU boundary, model downloads and the pipeline cache.

`spaces` is imported first: on ZeroGPU it must patch torch before anything touches CUDA. torch itself is
imported lazily, so importing the app (and this module) stays fast and GPU-free.
"""

from __future__ import annotations

import contextvars
import gc
import inspect
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import spaces  # noqa: F401  (must precede torch on ZeroGPU)

from pipelines import presets as presets_mod
from pipelines import tiny


class HubUnavailable(RuntimeError):
    """A model could not be fetched from the Hugging Face Hub; the message says what to do."""


class Cancelled(Exception):
    """The person who asked for this video pressed Stop; raised at the next denoising step."""


_cancel_requests: set[str] = set()
# The page (Gradio session) a generation runs for, set by the UI layer: its Stop button cancels that one only.
SESSION: contextvars.ContextVar[str] = contextvars.ContextVar("browser_session", default="")


def request_cancel(owner: str) -> None:
    if owner:
        _cancel_requests.add(owner)


def clear_cancel(owner: str) -> None:
    _cancel_requests.discard(owner)


def raise_if_cancelled(owner: str) -> None:
    if owner and owner in _cancel_requests:
        _cancel_requests.discard(owner)
        raise Cancelled()


# ---------------------------------------------------------------------------------------------- devices


def device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def compute_dtype():
    """bf16 on GPUs (the weights' own dtype); fp32 on the CPU, where bf16 kernels are slow or missing."""
    import torch

    return torch.bfloat16 if device() == "cuda" else torch.float32


def generator(seed: int):
    import torch

    # A CPU generator gives the same noise on every device, so a seed means the same video everywhere.
    return torch.Generator("cpu").manual_seed(int(seed))


# ------------------------------------------------------------------------------------------- GPU boundary


@dataclass
class BoundaryStats:
    """What happened inside the GPU window, read by the benchmarks and tests."""

    calls: int = 0
    seconds_inside: float = 0.0
    violations: list[str] = field(default_factory=list)  # outside-only work that ran inside the window

    def reset(self) -> None:
        self.calls, self.seconds_inside, self.violations = 0, 0.0, []


STATS = BoundaryStats()
_local = threading.local()


def inside_gpu_window() -> bool:
    return getattr(_local, "inside", False)


def must_run_outside_gpu(what: str) -> None:
    """Called by encoders, writers and loaders: such work inside the GPU window wastes paid GPU seconds."""
    if inside_gpu_window():
        STATS.violations.append(what)


def gpu_task(duration: Callable[..., float] | float, size: Callable[..., str | None] | None = None):
    """Decorate the one function per task that runs on the GPU (denoise + VAE decode).

    On ZeroGPU `spaces.GPU` reserves a GPU for `duration` seconds (a callable gets the same arguments) of the size
    `size(*args)` names ("large" or "xlarge"; by default from the plan's preset, pipelines/zerogpu.py); elsewhere
    it is a no-op. The wrapper also measures the window and flags outside-only work done in it.
    """
    from pipelines import zerogpu

    pick_size = size or zerogpu.size_for_call

    def decorate(fn):
        # spaces caches one wrapper per function object, so each size wraps its own thin copy of `fn` (a generator
        # copy for a generator: spaces picks its streaming wrapper by inspect.isgeneratorfunction).
        streaming = inspect.isgeneratorfunction(fn)

        def sized(gpu_size):
            if streaming:
                def call(*args, **kwargs):
                    yield from fn(*args, **kwargs)
            else:
                def call(*args, **kwargs):
                    return fn(*args, **kwargs)

            call.__name__, call.__doc__ = fn.__name__, fn.__doc__
            return spaces.GPU(duration=duration, size=gpu_size)(call)

        on_gpu = {gpu_size: sized(gpu_size) for gpu_size in zerogpu.SIZES}
        on_gpu[None] = on_gpu["large"]
        if streaming:
            return _streaming_window(fn, lambda *args, **kwargs: on_gpu[pick_size(*args, **kwargs)](*args, **kwargs))

        def window(*args, **kwargs):
            _local.inside = True
            start = time.perf_counter()
            try:
                return on_gpu[pick_size(*args, **kwargs)](*args, **kwargs)
            finally:
                _local.inside = False
                STATS.calls += 1
                STATS.seconds_inside += time.perf_counter() - start

        window.__name__ = fn.__name__
        window.__doc__ = fn.__doc__
        window.sizes = on_gpu
        return window

    return decorate


def _streaming_window(fn, on_gpu):
    """The GPU window of a generator (e.g. denoising with live previews): inside only while it runs, not
    while the consumer handles what it yielded."""

    def window(*args, **kwargs):
        steps = on_gpu(*args, **kwargs)
        STATS.calls += 1
        try:
            while True:
                _local.inside = True
                start = time.perf_counter()
                try:
                    item = next(steps)
                except StopIteration:
                    return
                finally:
                    _local.inside = False
                    STATS.seconds_inside += time.perf_counter() - start
                yield item
        finally:
            steps.close()

    window.__name__ = fn.__name__
    window.__doc__ = fn.__doc__
    return window


def is_out_of_memory(exc: BaseException) -> bool:
    import torch

    return isinstance(exc, torch.OutOfMemoryError) or "out of memory" in str(exc).lower()


def free_memory() -> None:
    gc.collect()
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


# ------------------------------------------------------------------------------------------------ the Hub


def _hub_message(repo_id: str, exc: BaseException) -> str:
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    if isinstance(exc, GatedRepoError):
        return (f"The model {repo_id} is gated: accept its license on huggingface.co/{repo_id} and set HF_TOKEN "
                "to a token of that account.")
    if isinstance(exc, RepositoryNotFoundError):
        return f"The model {repo_id} was not found on the Hugging Face Hub (check the repo id, or set HF_TOKEN)."
    return (f"Could not download the model {repo_id} from the Hugging Face Hub ({type(exc).__name__}). "
            "Check the network, or download it once with `hf download " + repo_id + "` and run with "
            "HF_HUB_OFFLINE=1; to try the app with no network at all, run it in smoke mode: "
            "`STUDIO_TINY=1 python app.py` (tiny untrained models).")


@contextmanager
def hub_errors(repo_id: str):
    """Turn any download failure into one HubUnavailable that names the repo and says how to run offline."""
    try:
        yield
    except HubUnavailable:
        raise
    except Exception as exc:  # network, offline mode, auth: every library raises its own type
        from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, OfflineModeIsEnabled

        known = (HfHubHTTPError, LocalEntryNotFoundError, OfflineModeIsEnabled, OSError, ConnectionError)
        if isinstance(exc, known) or "connect" in str(exc).lower():
            raise HubUnavailable(_hub_message(repo_id, exc)) from exc
        raise


def model_source(preset: presets_mod.Preset) -> Path:
    """A local folder in the Hub layout: the tiny model in smoke mode, else the downloaded repo."""
    if preset.tiny:
        return tiny.build(preset.tiny_builder)
    import diffusers

    pipeline_class = getattr(diffusers, preset.pipeline_class)
    with hub_errors(preset.repo_id):
        return Path(pipeline_class.download(preset.repo_id, token=os.environ.get("HF_TOKEN") or None))


def hub_folder(repo_id: str, tiny_builder: str, allow_patterns: list[str] | None = None) -> Path:
    """A whole Hub repo as a local folder (for transformers models and other non-diffusers parts);
    in smoke mode the tiny stand-in built by `tiny_builder`, so both load with the same from_pretrained."""
    if presets_mod.tiny_mode():
        return tiny.build(tiny_builder)
    from huggingface_hub import snapshot_download

    with hub_errors(repo_id):
        return Path(snapshot_download(repo_id, allow_patterns=allow_patterns,
                                      token=os.environ.get("HF_TOKEN") or None))


def fetch_file(repo_id: str, filename: str, repo_type: str = "model") -> Path:
    """One file of a Hub repo (a detector's ONNX file, a state dict, a dataset archive), same cache and errors."""
    from huggingface_hub import hf_hub_download

    with hub_errors(repo_id):
        return Path(hf_hub_download(repo_id, filename, repo_type=repo_type,
                                    token=os.environ.get("HF_TOKEN") or None))


# ----------------------------------------------------------------------------------------- pipeline cache


def _budget_gb() -> float:
    try:
        return max(0.0, float(os.environ.get("STUDIO_CACHE_GB", "0") or 0))
    except ValueError:
        return 0.0


@dataclass
class _Entry:
    value: Any
    size_gb: float
    pinned: bool = False  # loaded at start-up on ZeroGPU: never evicted


class PipelineCache:
    """Loaded pipelines stay resident between requests; least recently used ones leave when over budget.

    A budget of 0 keeps only the most recent pipeline, the safe choice for one GPU.
    """

    def __init__(self, evicts: bool = True) -> None:
        self.evicts = evicts
        self._entries: OrderedDict[tuple, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[tuple, threading.Lock] = {}
        self.loads = 0

    def get(self, key: tuple, loader: Callable[[], Any], size_gb: float = 0.0, pin: bool = False) -> Any:
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                self._entries[key].pinned |= pin
                return self._entries[key].value
            key_lock = self._loading.setdefault(key, threading.Lock())
        with key_lock:  # two first requests for one model load it once
            with self._lock:
                if key in self._entries:
                    return self._entries[key].value
            must_run_outside_gpu("load")
            value = loader()
            with self._lock:
                self.loads += 1
                self._entries[key] = _Entry(value, size_gb, pin)
                self._evict(keep=key)
            return value

    def _evict(self, keep: tuple) -> None:
        if not self.evicts:
            return
        budget = _budget_gb()
        while True:
            candidates = [k for k, e in self._entries.items() if k != keep and not e.pinned]
            if not candidates:
                break
            total = sum(e.size_gb for e in self._entries.values())
            if budget and total <= budget:
                break
            del self._entries[candidates[0]]  # the least recently used
        free_memory()

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
        free_memory()

    def __len__(self) -> int:
        return len(self._entries)


CACHE = PipelineCache()
HELPERS = PipelineCache(evicts=False)  # depth, pose, face and speech models: small, always resident


def cached(key: tuple, loader: Callable[[], Any], size_gb: float = 0.0) -> Any:
    """A helper model (depth estimator, pose model...) kept resident beside the one big pipeline: only
    pipelines evict each other, so a helper never pushes out the model it prepares input for."""
    return HELPERS.get((*key, presets_mod.tiny_mode()), loader, size_gb)


def vocoder_rate(preset: presets_mod.Preset) -> int:
    """Sample rate of the sound a preset's pipeline makes (LTX-2's vocoder)."""
    return int(getattr(pipeline(preset).vocoder.config, "output_sampling_rate", 24000))


def lora_source(preset: presets_mod.Preset, lora: dict) -> tuple[str, str]:
    """(folder, file name) of a LoRA: downloaded from the Hub, or the tiny one made for the tiny model."""
    if preset.tiny:
        return str(tiny.build(preset.tiny_lora_builder)), "pytorch_lora_weights.safetensors"
    path = fetch_file(lora["repo_id"], lora["weight_name"])
    return str(path.parent), path.name


def _modular_pipeline(preset: presets_mod.Preset, pipeline_class):
    """A modular pipeline: its repo lists the components (modular_model_index.json); load_components fetches them."""
    source = str(tiny.build(preset.tiny_builder)) if preset.tiny else preset.repo_id
    with hub_errors(preset.repo_id):
        pipe = pipeline_class.from_pretrained(source)
        pipe.load_components(dtype=compute_dtype())
    return pipe


def _attach_upsampler(pipe, preset: presets_mod.Preset) -> None:
    """The preset's latent upsampler (its `upsampler` table): from the Hub, or the tiny one in smoke mode."""
    from pipelines import two_stage

    rule = preset.table("upsampler")
    if preset.tiny:
        two_stage.attach(pipe, preset, str(tiny.build(rule["tiny_builder"])), "latent_upsampler")
        return
    with hub_errors(rule["repo_id"]):
        two_stage.attach(pipe, preset, rule["repo_id"], rule["subfolder"])


def pipeline(preset: presets_mod.Preset, prepare: Callable[[Any], Any] | None = None, pin: bool = False):
    """The diffusers pipeline of a preset, loaded once (tiny or real, through the same code).

    `pin` keeps it resident whatever the cache budget (the models loaded at start-up on ZeroGPU)."""

    def load():
        import diffusers

        from pipelines import sampling, speed

        pipeline_class = getattr(diffusers, preset.pipeline_class)
        dtype = {"default": compute_dtype()}
        if preset.load.get("vae_fp32"):
            import torch

            dtype["vae"] = torch.float32  # the Wan VAE decodes with visible artefacts in bf16
        if preset.pipeline_class.endswith("ModularPipeline"):
            pipe = _modular_pipeline(preset, pipeline_class)
        else:
            pipe = pipeline_class.from_pretrained(model_source(preset), dtype=dtype)
        pipe.set_progress_bar_config(disable=True)
        sampling.configure(pipe, preset)  # the official sampler and shift, not the repo's scheduler config
        from pipelines import schedules

        schedules.use_sampler(pipe, preset)  # e.g. a DMD student's re-noising sampler on its trained sigmas
        speed.fuse_loras(pipe, preset, lambda lora: lora_source(preset, lora))
        if "upsampler" in preset.tables:  # two-stage presets: the latent upsampler, loaded with the pipeline
            _attach_upsampler(pipe, preset)
        if prepare is not None:
            pipe = prepare(pipe) or pipe
        speed.place(pipe, preset, device())
        return pipe

    size = preset.cost.params_b * preset.cost.weight_bytes + preset.cost.other_gb
    return CACHE.get((preset.task, preset.key, preset.tiny), load, 0.0 if preset.tiny else size, pin)


def model_state(preset: presets_mod.Preset) -> str:
    """How the next run gets a preset's model, for progress text: "memory" (loaded already), "tiny" (built on
    this machine in smoke mode), "cache" (in the local Hub cache) or "download"."""
    if any(key[:2] == (preset.task, preset.key) for key in list(CACHE._entries)):
        return "memory"
    if preset.tiny:
        return "tiny"
    from huggingface_hub import constants

    snapshots = Path(constants.HF_HUB_CACHE) / f"models--{preset.repo_id.replace('/', '--')}" / "snapshots"
    return "cache" if snapshots.is_dir() and any(snapshots.iterdir()) else "download"
