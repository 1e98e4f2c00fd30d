"""Spies on what the models receive.

Tiny random-weight models barely react to some inputs (a control video or an all-black one give much the same
noise), so comparing outputs cannot show that an input reached the model. These spies hook the stable seams
instead: the `__call__` of every diffusers pipeline class a preset names, and the forward of the UNet the
lip-sync task calls itself. They record the arguments (and what came back) and pass everything through.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

TASKS = ("text_to_video", "image_to_video", "stylize_video", "dance")


@dataclass
class Call:
    pipeline: str          # the diffusers class name
    kwargs: dict
    frames: Any = None     # output.frames of the call
    audio: Any = None      # output.audio (LTX-2), e.g. the sound latents one stage hands the next

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


class PipelineSpy:
    """Records every diffusers pipeline call, in the test's thread or the served app's."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[Call] = []
        self._inside = threading.local()
        for cls in pipeline_classes():
            monkeypatch.setattr(cls, "__call__", self._wrap(cls, cls.__call__))

    def _wrap(self, cls: type, real):
        spy = self

        def spied(pipe, *args, **kwargs):
            if getattr(spy._inside, "depth", 0):  # a pipeline calling an inherited __call__: record once
                return real(pipe, *args, **kwargs)
            spy._inside.depth = 1
            call = Call(type(pipe).__name__, dict(kwargs))
            spy.calls.append(call)
            try:
                output = real(pipe, *args, **kwargs)
            finally:
                spy._inside.depth = 0
            call.frames = getattr(output, "frames", None)
            call.audio = getattr(output, "audio", None)
            return output

        return spied

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
