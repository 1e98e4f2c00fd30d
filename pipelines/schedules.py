"""Samplers a preset asks for in place of the scheduler its repo ships.

A DMD-distilled student (FastWan) is trained on a handful of fixed timesteps and samples by predicting the clean
video at each one, then re-noising it with fresh noise down to the next timestep. diffusers' flow-match Euler
scheduler does exactly that with `stochastic_sampling=True`; the pipelines only pass a step count, so the
scheduler below holds the trained sigmas itself.
"""

from __future__ import annotations

from contextlib import contextmanager

from diffusers import FlowMatchEulerDiscreteScheduler


class DistilledFlowMatchScheduler(FlowMatchEulerDiscreteScheduler):
    """Flow-match Euler on a distilled student's own sigmas, re-noising between steps.

    `trained_sigmas` are used as given (shift 1); fewer steps stop early on the same trained sigmas.
    The re-noising draws from `noise_generator` (the request's seeded generator), so a seed gives one video.
    """

    trained_sigmas: tuple[float, ...] = ()
    noise_generator = None

    def set_timesteps(self, num_inference_steps=None, device=None, sigmas=None, mu=None, timesteps=None):
        count = num_inference_steps or len(self.trained_sigmas)
        # More steps than the student was trained on (the preset caps its slider, only the benchmark's reference
        # count asks) fall back to the plain flow-match schedule.
        if sigmas is None and timesteps is None and 0 < count <= len(self.trained_sigmas):
            sigmas = list(self.trained_sigmas[:count])
        return super().set_timesteps(num_inference_steps, device=device, sigmas=sigmas, mu=mu, timesteps=timesteps)

    def step(self, model_output, timestep, sample, *args, generator=None, **kwargs):
        return super().step(model_output, timestep, sample, *args,
                            generator=generator if generator is not None else self.noise_generator, **kwargs)


def use_sampler(pipe, preset) -> None:
    """Swap in the sampler named by the preset's `load.sampler` (nothing to do without one)."""
    sampler = preset.load.get("sampler")
    if not sampler:
        return
    if sampler["kind"] != "dmd":
        raise ValueError(f"Preset {preset.key} names an unknown sampler {sampler['kind']!r}.")
    scheduler = DistilledFlowMatchScheduler(shift=1.0, stochastic_sampling=True)
    scheduler.trained_sigmas = tuple(float(s) for s in sampler["sigmas"])
    pipe.scheduler = scheduler


def share_generator(pipe, generator) -> None:
    """Let a re-noising sampler draw its fresh noise from the request's seeded generator."""
    if isinstance(getattr(pipe, "scheduler", None), DistilledFlowMatchScheduler):
        pipe.scheduler.noise_generator = generator


@contextmanager
def sigmas_as_given(pipe, kwargs: dict):
    """An LTX-2 call handed explicit sigmas (a distilled schedule) samples exactly those: the scheduler's
    resolution-dependent shift and terminal stretch are off for the duration. The LTX-2.x repos' scheduler config
    shifts any sigmas it is given (use_dynamic_shifting, shift_terminal 0.1); the official distilled code uses them
    as they are (Lightricks/LTX-2 packages/ltx-pipelines/src/ltx_pipelines/distilled.py, DISTILLED_SIGMAS and
    STAGE_2_DISTILLED_SIGMAS; huggingface/diffusers#12934 found the shifted ones in review)."""
    if kwargs.get("sigmas") is None or not type(pipe).__name__.startswith("LTX2"):
        yield
        return
    original = pipe.scheduler
    pipe.scheduler = type(original).from_config(original.config, use_dynamic_shifting=False, shift_terminal=None,
                                                shift=1.0)
    try:
        yield
    finally:
        pipe.scheduler = original
