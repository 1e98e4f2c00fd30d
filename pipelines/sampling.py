"""A preset's sampler, set on a loaded pipeline in one place (runtime.pipeline) for every task.

The Diffusers repos ship one scheduler config per model, but the official inference code samples with its own
shift (and, for the 4-step distill LoRAs, its own sampler). A preset's `load` table says which:

- `"flow_shift": x` keeps the repo's scheduler class (UniPC for Wan) and sets its flow shift to x;
- `"scheduler": "euler-linear"` replaces it with flow-matching Euler on the evenly spaced timesteps
  1000 * (1 - i / N), i < N, shifted by `flow_shift`: the sampler the Lightning / LightX2V 4-step LoRAs were
  distilled with (N = 4 gives timesteps 1000, 750, 500, 250 before the shift).
"""

from __future__ import annotations

from pipelines.presets import Preset

EULER_LINEAR = "euler-linear"
SAMPLERS = (EULER_LINEAR,)


def linear_sigmas(steps: int) -> list[float]:
    """Unshifted sigmas 1, 1 - 1/N, ..., 1/N: ModelTC/Wan2.2-Lightning wan/utils/fm_solvers_euler.py get_timesteps
    (np.linspace(1000, 0, N + 1), the last dropped) and ModelTC/LightX2V
    lightx2v/models/schedulers/wan/step_distill/scheduler.py (denoising_step_list 1000/750/500/250)."""
    return [1.0 - i / steps for i in range(steps)]


def _euler_linear_class():
    from diffusers import FlowMatchEulerDiscreteScheduler

    class LinearFlowMatchEulerScheduler(FlowMatchEulerDiscreteScheduler):
        """Flow-matching Euler whose default schedule is linear_sigmas(N), shifted by the config's `shift`.

        The Wan pipelines call set_timesteps(N) with no sigmas, so the schedule is supplied here; diffusers applies
        the shift (shift * s / (1 + (shift - 1) * s)) and appends the final sigma 0, as the distill samplers do.
        """

        def set_timesteps(self, num_inference_steps=None, device=None, sigmas=None, mu=None, timesteps=None):
            if sigmas is None and timesteps is None and num_inference_steps:
                sigmas = linear_sigmas(num_inference_steps)
            return super().set_timesteps(num_inference_steps, device=device, sigmas=sigmas, mu=mu,
                                         timesteps=timesteps)

    return LinearFlowMatchEulerScheduler


def scheduler_for(preset: Preset, current):
    """The scheduler the preset samples with, built from the repo's own scheduler `current`."""
    sampler = preset.load.get("scheduler")
    shift = preset.load.get("flow_shift")
    if sampler is None:
        if shift is None:
            return current
        if "flow_shift" in current.config:  # UniPC / DPM++ with flow sigmas
            return type(current).from_config(current.config, flow_shift=float(shift))
        return type(current).from_config(current.config, shift=float(shift))  # flow-matching Euler
    if sampler != EULER_LINEAR:
        raise ValueError(f"Preset {preset.key}: unknown scheduler {sampler!r}; known: {', '.join(SAMPLERS)}.")
    if shift is None:
        raise ValueError(f"Preset {preset.key}: the {sampler} scheduler needs a flow_shift.")
    train_steps = int(current.config.get("num_train_timesteps", 1000))
    return _euler_linear_class()(num_train_timesteps=train_steps, shift=float(shift))


def configure(pipe, preset: Preset) -> None:
    """Give every scheduler of the pipeline the preset's sampler (most pipelines have one)."""
    if getattr(pipe, "scheduler", None) is not None:
        pipe.scheduler = scheduler_for(preset, pipe.scheduler)
