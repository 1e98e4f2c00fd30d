"""Spies on what the models receive.

Tiny random-weight models barely react to some inputs (a control video or an all-black one give much the same
noise), so comparing outputs cannot show that an input reached the model. These spies hook the stable seams
instead: the `__call__` of every diffusers pipeline class a preset names, and the forward of the UNet the
lip-sync task calls itself. They record the arguments (and what came back) and pass everything through.

A modular pipeline (Wan-Animate-2) runs its own segment loop inside the one call, so for those the spy also keeps
the call's final state (every intermediate the blocks wrote) and, per segment, the pixels each loop block gave
the VAE, what the VAE decoded, and the transformer passes.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

TASKS = ("text_to_video", "image_to_video", "stylize_video", "dance")


@dataclass
class Segment:
    """One pass of a modular pipeline's segment loop, as its blocks gave it to the models."""

    driving: np.ndarray | None = None       # (T, H, W, 3) in [-1, 1]: the driving slice the `vae_encoder` block encoded
    conditioning: np.ndarray | None = None  # (T, H, W, 3): the previous frames the `prev_frames` block encoded
    decoded: np.ndarray | None = None       # (T, H, W, 3): what the `decode` block's VAE decode gave
    passes: dict = field(default_factory=dict)  # transformer passes by kv_cache_mode ("extract", "cached")
    text: list = field(default_factory=list)    # encoder_hidden_states of each denoising ("cached") pass


@dataclass
class Call:
    pipeline: str          # the diffusers class name
    kwargs: dict
    frames: Any = field(default=None, repr=False)  # output.frames (a modular call: the output it was asked for)
    audio: Any = field(default=None, repr=False)   # output.audio (LTX-2), e.g. the sound latents one stage hands on
    state: dict = field(default_factory=dict, repr=False)  # a modular call's final state: inputs, intermediates
    segments: list[Segment] = field(default_factory=list, repr=False)  # a modular call's segment loop, in order
    guidance_scale: float | None = None              # a modular pipeline's guider at call time

    def __getitem__(self, name: str):
        return self.kwargs[name]

    def get(self, name: str, default=None):
        return self.kwargs.get(name, default)

    def seed(self) -> int:
        return int(self.kwargs["generator"].initial_seed())


def outcome(returned):
    """What a tab handler finally gives the page: its return value, or the last update a streaming one yields."""
    import inspect

    if inspect.isgenerator(returned):
        last = None
        for last in returned:
            pass
        return last
    return returned


def pixels(value) -> np.ndarray:
    """A PIL image, a list of them, or an array as a uint8 array ((T,) H, W(, C))."""
    if isinstance(value, (list, tuple)):
        return np.stack([pixels(v) for v in value])
    return np.asarray(value)


def pipeline_classes() -> set[type]:
    import diffusers

    from pipelines import presets

    names = {p.pipeline_class for task in TASKS for p in presets.presets(task).values()}
    names |= {p.tables["upsampler"]["pipeline_class"] for task in TASKS for p in presets.presets(task).values()
              if "upsampler" in p.tables}  # two-stage presets: the latent upsampler's pipeline between the stages
    return {getattr(diffusers, name) for name in names}


def _video(tensor) -> np.ndarray:
    """A [1, C, T, H, W] (or [C, T, H, W]) pixel tensor as (T, H, W, C) floats."""
    array = tensor.detach().float().cpu().numpy()
    return np.moveaxis(array[0] if array.ndim == 5 else array, 0, -1)



def transformer_kwargs(pipe, pick, run):
    """What `pick(kwargs)` gives at each call of the pipeline's transformer while `run()` runs, and run's result."""
    seen = []
    handle = pipe.transformer.register_forward_pre_hook(lambda module, args, kwargs: seen.append(pick(kwargs)),
                                                        with_kwargs=True)
    try:
        result = run()
    finally:
        handle.remove()
    return seen, result


def largest_timestep(kwargs) -> int:
    """The largest timestep of one transformer call (Wan 2.2 5B passes one per token)."""
    return round(float(kwargs["timestep"].max()))

class PipelineSpy:
    """Records every diffusers pipeline call, in the test's thread or the served app's."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[Call] = []
        self._inside = threading.local()
        for cls in pipeline_classes():
            monkeypatch.setattr(cls, "__call__", self._wrap(cls, cls.__call__))
        self._spy_segment_loop(monkeypatch)

    def _wrap(self, cls: type, real):
        spy = self

        def spied(pipe, *args, **kwargs):
            if getattr(spy._inside, "depth", 0):  # a pipeline calling an inherited __call__: record once
                return real(pipe, *args, **kwargs)
            from diffusers.modular_pipelines import ModularPipeline

            spy._inside.depth = 1
            call = Call(type(pipe).__name__, dict(kwargs))
            spy.calls.append(call)
            modular = isinstance(pipe, ModularPipeline)
            try:
                if not modular:
                    output = real(pipe, *args, **kwargs)
                else:  # run for the whole state, then hand back what was asked for, as ModularPipeline does
                    guider = getattr(pipe, "guider", None)
                    call.guidance_scale = None if guider is None else float(guider.guidance_scale)
                    spy._inside.call = call
                    wanted = kwargs.pop("output", None)
                    state = real(pipe, *args, output=None, **kwargs)
                    call.state = dict(state.values)
                    output = state if wanted is None else (
                        state.get(wanted) if isinstance(wanted, str) else {name: state.get(name) for name in wanted})
            finally:
                spy._inside.depth = 0
                spy._inside.call = None
            call.frames = output if modular else getattr(output, "frames", None)
            call.audio = None if modular else getattr(output, "audio", None)
            return output

        return spied

    def _spy_segment_loop(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Tag what the VAE and the transformer receive with the loop block and segment that gave it."""
        from diffusers import AutoencoderKLWan, WanAnimate2Transformer3DModel
        from diffusers.modular_pipelines import LoopSequentialPipelineBlocks

        spy, real_step = self, LoopSequentialPipelineBlocks.loop_step
        real_encode, real_decode = AutoencoderKLWan.encode, AutoencoderKLWan.decode
        real_forward = WanAnimate2Transformer3DModel.forward

        def segment() -> Segment | None:
            call, where = getattr(spy._inside, "call", None), getattr(spy._inside, "block", None)
            if call is None or where is None:
                return None
            while len(call.segments) <= where[1]:
                call.segments.append(Segment())
            return call.segments[where[1]]

        def loop_step(blocks, components, state, **kwargs):
            if getattr(spy._inside, "call", None) is None:
                return real_step(blocks, components, state, **kwargs)
            for name, block in blocks.sub_blocks.items():  # the loop step itself, with each block's name known
                spy._inside.block = (name, kwargs.get("k", 0))
                try:
                    components, state = block(components, state, **kwargs)
                finally:
                    spy._inside.block = None
            return components, state

        def encode(vae, x, *args, **kwargs):
            seg, name = segment(), (getattr(spy._inside, "block", None) or ("",))[0]
            if seg is not None and name == "vae_encoder":
                seg.driving = _video(x)
            elif seg is not None and name == "prev_frames":
                seg.conditioning = _video(x)
            return real_encode(vae, x, *args, **kwargs)

        def decode(vae, z, *args, **kwargs):
            output = real_decode(vae, z, *args, **kwargs)
            seg = segment()
            if seg is not None and spy._inside.block[0] == "decode":
                seg.decoded = _video(output[0] if isinstance(output, tuple) else output.sample)
            return output

        @functools.wraps(real_forward)  # the denoise block reads the forward's signature to pick its arguments
        def forward(transformer, *args, **kwargs):
            seg = segment()
            if seg is not None:
                mode = kwargs.get("kv_cache_mode")
                seg.passes[mode] = seg.passes.get(mode, 0) + 1
                if mode == "cached":
                    seg.text.append(kwargs["encoder_hidden_states"][0].detach().float().cpu().numpy())
            return real_forward(transformer, *args, **kwargs)

        monkeypatch.setattr(LoopSequentialPipelineBlocks, "loop_step", loop_step)
        monkeypatch.setattr(AutoencoderKLWan, "encode", encode)
        monkeypatch.setattr(AutoencoderKLWan, "decode", decode)
        monkeypatch.setattr(WanAnimate2Transformer3DModel, "forward", forward)

    def clear(self) -> None:
        self.calls.clear()

    @property
    def last(self) -> Call:
        assert self.calls, "no pipeline was called"
        return self.calls[-1]


class UNetSpy:
    """Records the audio context (encoder_hidden_states) of every UNet forward: one row per output frame."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from diffusers import UNet2DConditionModel

        self.contexts: list[np.ndarray] = []
        self.latents: list[np.ndarray] = []
        real = UNet2DConditionModel.forward
        spy = self

        def forward(unet, sample, timestep, encoder_hidden_states=None, *args, **kwargs):
            spy.contexts.append(encoder_hidden_states.detach().float().cpu().numpy())
            spy.latents.append(sample.detach().float().cpu().numpy())
            return real(unet, sample, timestep, encoder_hidden_states, *args, **kwargs)

        monkeypatch.setattr(UNet2DConditionModel, "forward", forward)

    def per_frame(self) -> np.ndarray:
        """(frames, tokens, dim): the speech context each generated frame was made from, in order."""
        return np.concatenate(self.contexts)


@pytest.fixture
def pipeline_spy(monkeypatch) -> PipelineSpy:
    return PipelineSpy(monkeypatch)


@pytest.fixture
def unet_spy(monkeypatch) -> UNetSpy:
    return UNetSpy(monkeypatch)
