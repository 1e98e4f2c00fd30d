"""Pose-driven dance tab: a character image and a dance video; one Generate = /dance (video + skeleton)."""

from __future__ import annotations

import math
import time

import gradio as gr

from pipelines import dance as pipeline
from pipelines import presets, runtime
from tabs import _widgets as w
from tabs import i18n
from tabs.i18n import t

TITLE = "Pose-driven dance"
API_NAME = "dance"
DEFAULT = presets.get(pipeline.TASK, None)
EXAMPLE_DIR = w.ASSETS / "examples" / "dance"
EXAMPLES = sorted(EXAMPLE_DIR.glob("*.mp4"))  # ready skeleton videos, danced by the drawn character
MODE_CHOICES = [(t(f"dance.mode_{mode}"), mode) for mode in pipeline.MODES]
SECONDS_STEP = 0.5


def _longest(preset: presets.Preset) -> float:
    return preset.limits.max_frames / preset.defaults.fps


def _first_seconds(preset: presets.Preset) -> float:
    return min(5.0, _longest(preset))


def _shortest(preset: presets.Preset) -> float:
    """The slider's start: the model's shortest dance rounded up to the slider's step, so every stop is valid."""
    return math.ceil(preset.limits.min_frames / preset.defaults.fps / SECONDS_STEP) * SECONDS_STEP


@w.friendly_errors
def dance(character_image: str, dance_video: str, prompt: str = "", negative_prompt: str = "",
          preset: str = DEFAULT.key, mode: str = "animate", dance_is_skeleton: bool = False,
          max_seconds: float = _first_seconds(DEFAULT), steps: int = DEFAULT.defaults.steps,
          guidance_scale: float = DEFAULT.defaults.guidance_scale, seed: int = 0, randomize_seed: bool = False,
          progress=gr.Progress()):
    """Make a character image perform the dance in a video.

    Args:
        character_image: Picture of the character (person, cartoon, figure) with its body visible.
        dance_video: Video of one person dancing, or a ready skeleton video (then set dance_is_skeleton).
        prompt: Optional description of the result, e.g. "a knight dancing in a castle hall".
        negative_prompt: What to avoid, e.g. "blurry, distorted hands".
        preset: Model preset key (see the Model dropdown); the default is Wan 2.2 Animate.
        mode: "animate" (the character dances in its own picture) or "replace" (the character takes the
            dancer's place in the video's own scene).
        dance_is_skeleton: The dance video is already a rendered pose skeleton; skip pose extraction.
        max_seconds: Use at most this many seconds of the dance video.
        steps: Denoising steps per segment.
        guidance_scale: How strictly to follow the prompt (1 turns guidance off, the model's default).
        seed: Random seed; the same seed and settings give the same video.
        randomize_seed: Ignore `seed` and pick a new one.

    Returns:
        The MP4 file, the skeleton video the model followed, a line describing how it was made, and the seed.
    """
    started = time.perf_counter()
    used_seed = w.pick_seed(seed, randomize_seed)
    request = pipeline.Request(character_image=character_image, dance_video=dance_video, prompt=prompt,
                               negative_prompt=negative_prompt, seed=used_seed, preset=preset, mode=mode,
                               dance_is_skeleton=bool(dance_is_skeleton), max_seconds=float(max_seconds),
                               steps=int(steps), guidance_scale=float(guidance_scale))
    w.loading(progress, presets.get(pipeline.TASK, preset))
    cancel_key = runtime.SESSION.get()

    def report(step: pipeline.Step) -> None:
        runtime.raise_if_cancelled(cancel_key)  # Stop takes effect at the next denoising step
        progress((step.done, step.total), desc=w.say("progress.segment", segment=step.segment,
                                                     segments=step.segments, step=step.step, steps=step.steps))

    saved = w.finished(w.job(pipeline, request, progress, report))
    return (str(saved.video), str(saved.previews["skeleton"]), w.info_line(saved, time.perf_counter() - started),
            used_seed)


def _preflight(preset_key, mode, max_seconds, steps, guidance_scale, request: gr.Request = None) -> str:
    locale = i18n.language(request)
    try:
        plan = pipeline.plan(pipeline.Request("", "", preset=preset_key, mode=mode, max_seconds=float(max_seconds),
                                              steps=int(steps), guidance_scale=float(guidance_scale)))
    except (ValueError, TypeError) as exc:
        return w.warning(exc, locale)
    frames = plan.max_frames()
    length = i18n.message("dance.preflight", locale, frames=frames, seconds=f"{frames / plan.fps:.1f}",
                          segments=plan.segments(frames))
    if plan.preset.tiny:
        return f"{length} · {i18n.message('common.tiny_model', locale)}"
    cost = w.cost_line(pipeline.estimate(plan), locale)
    prepare = pipeline.preprocess_seconds(plan, frames)
    if not prepare:
        return f"{length} · {cost}"
    return f"{length} · {cost} · {i18n.message('dance.preflight_prepare', locale, seconds=f'{prepare:.0f}')}"


def _preset_changed(preset_key):
    p = presets.get(pipeline.TASK, preset_key)
    return (gr.Slider(minimum=_shortest(p), maximum=_longest(p), value=_first_seconds(p)),
            gr.Slider(maximum=p.limits.max_steps, value=p.defaults.steps),
            gr.Slider(value=p.defaults.guidance_scale))


def build() -> None:
    d, lim = DEFAULT.defaults, DEFAULT.limits
    with gr.Row():
        with gr.Column(scale=5):
            with gr.Row():
                character_image = w.ImageFile(label=t("dance.character"), type="filepath", sources=["upload", "clipboard"])
                dance_video = gr.Video(label=t("dance.dance_video"), sources=["upload"])
            dance_is_skeleton = gr.Checkbox(label=t("dance.is_skeleton"), value=False,
                                            info=t("dance.is_skeleton_info"))
            mode = gr.Radio(label=t("dance.mode"), choices=MODE_CHOICES, value="animate")
            prompt = gr.Textbox(label=t("common.prompt_optional"), lines=2, value="",
                                placeholder=t("dance.prompt_placeholder"))
            negative_prompt = gr.Textbox(label=t("common.negative_prompt"), value="",
                                         placeholder=t("dance.negative_placeholder"))
            preset = w.model_picker(pipeline.TASK)
            max_seconds = w.Slider(label=t("dance.max_seconds"), minimum=_shortest(DEFAULT),
                                   maximum=_longest(DEFAULT), step=SECONDS_STEP, value=_first_seconds(DEFAULT),
                                   info=t("dance.max_seconds_info"))
            with gr.Accordion(t("common.advanced"), open=False):
                steps = w.Slider(label=t("dance.steps"), minimum=1, maximum=lim.max_steps, step=1, value=d.steps)
                guidance_scale = w.guidance_slider(d.guidance_scale)
                seed, randomize = w.seed_row()
            preflight = gr.Markdown(elem_classes=["preflight"])
            generate, stop = w.action_row()
        with gr.Column(scale=4):
            video, info = w.result_panel()
            reuse = w.reuse_seed_button()
            skeleton = gr.Video(label=t("dance.skeleton"), interactive=False, buttons=["download"])
    settings = [preset, mode, max_seconds, steps, guidance_scale]
    preset.change(_preset_changed, preset, [max_seconds, steps, guidance_scale], api_visibility="private")
    w.on_page(_preflight, settings, preflight)
    character = str(EXAMPLE_DIR / "character.png")
    rows = [[character, str(path), True] for path in EXAMPLES]
    w.examples([(f"examples.dance_{path.stem}", row, row) for path, row in zip(EXAMPLES, rows)],
               [character_image, dance_video, dance_is_skeleton], t("dance.examples"))
    inputs = [character_image, dance_video, prompt, negative_prompt, preset, mode, dance_is_skeleton, max_seconds,
              steps, guidance_scale, seed, randomize]
    w.wire_generate(generate, stop, reuse, seed, randomize, dance, inputs, [video, skeleton, info, seed], API_NAME)
