"""Input checks every task shares; each raises ValueError naming the value to change, with the actual value."""

from __future__ import annotations

from pipelines import limits, presets

MAX_SEED = 2**32 - 1
MAX_GUIDANCE = 20.0


def check_prompt(prompt: str | None, negative_prompt: str | None) -> tuple[str, str]:
    prompt = (prompt or "").strip()
    if not prompt:
        raise ValueError("The prompt is empty: describe the video you want, e.g. 'a red fox running through snow'.")
    limits.check_prompt_length(prompt, negative_prompt or "")
    return prompt, (negative_prompt or "").strip()


def check_seed(seed) -> int:
    try:
        value = int(seed)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"The seed must be a whole number, got {seed!r}.") from exc
    if not 0 <= value <= MAX_SEED:
        raise ValueError(f"The seed must be between 0 and {MAX_SEED}, got {value}.")
    return value


def check_sampling(preset: presets.Preset, steps, guidance_scale) -> tuple[int, float]:
    steps = preset.defaults.steps if steps is None else int(steps)
    guidance = preset.defaults.guidance_scale if guidance_scale is None else float(guidance_scale)
    if not 1 <= steps <= preset.limits.max_steps:
        raise ValueError(f"Steps must be between 1 and {preset.limits.max_steps}, got {steps}.")
    if not 0.0 <= guidance <= MAX_GUIDANCE:
        raise ValueError(f"Guidance must be between 0 and {MAX_GUIDANCE:g}, got {guidance:g}.")
    return steps, guidance


def check_frames(preset: presets.Preset, num_frames) -> int:
    if num_frames is None:
        return preset.defaults.num_frames
    count = int(num_frames)
    low, high = preset.limits.min_frames, preset.limits.max_frames
    if not low <= count <= high:
        raise ValueError(f"{preset.label.split(' ·')[0]} makes {low} to {high} frames; {count} were asked for. "
                         f"Pick a length between {low / preset.defaults.fps:.1f} s and "
                         f"{high / preset.defaults.fps:.1f} s.")
    return preset.valid_frames(count)
