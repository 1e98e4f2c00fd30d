"""Pose-driven dance tab: a character image and a dance video; one Generate = /dance (video + skeleton)."""

from __future__ import annotations

import time
from pathlib import Path

import gradio as gr

from pipelines import dance as pipeline
from pipelines import presets, runtime
from pipelines.store import save
from tabs import _widgets as w
from tabs.i18n import t

TITLE = "Pose-driven dance"
API_NAME = "dance"
DEFAULT = presets.get(pipeline.TASK, None)
EXAMPLES = sorted((w.ASSETS / "examples" / "dance").glob("*.mp4"))
MODE_CHOICES = [("Animate: the character dances in its own picture", "animate"),
                ("Replace: the character takes the dancer's place in the video", "replace")]


def _longest(preset: presets.Preset) -> float:
    return preset.limits.max_frames / preset.defaults.fps


def _first_seconds(preset: presets.Preset) -> float:
    return min(5.0, _longest(preset))


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
    progress(0, desc="Loading the model and reading the dancer's pose")
    session = runtime.SESSION.get()

    def report(step: pipeline.Step) -> None:
        runtime.raise_if_cancelled(session)  # Stop takes effect at the next denoising step
        progress((step.done, step.total), desc=f"Denoising: {step}")

    result = pipeline.run(request, progress=report)
    progress(1.0, desc="Encoding the video")
    saved = save(result)
    return (str(saved.video), str(saved.previews["skeleton"]), w.info_line(saved, time.perf_counter() - started),
            used_seed)


def _preflight(preset_key, mode, max_seconds, steps, guidance_scale) -> str:
    try:
        plan = pipeline.plan(pipeline.Request("", "", preset=preset_key, mode=mode, max_seconds=float(max_seconds),
                                              steps=int(steps), guidance_scale=float(guidance_scale)))
    except (ValueError, TypeError) as exc:
        return f"⚠ {exc}"
    frames = plan.max_frames()
    length = f"up to {frames} frames ({frames / plan.fps:.1f} s) in {plan.segments(frames)} segment(s)"
    if plan.preset.tiny:
        return f"{length} · tiny test model on CPU"
    return f"{length} · {pipeline.estimate(plan).line()}"


def _preset_changed(preset_key):
    p = presets.get(pipeline.TASK, preset_key)
    return (gr.Slider(maximum=_longest(p), value=_first_seconds(p)),
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
            max_seconds = w.Slider(label=t("dance.max_seconds"), minimum=lim.min_frames / d.fps,
                                   maximum=_longest(DEFAULT), step=0.5, value=_first_seconds(DEFAULT),
                                   info=t("dance.max_seconds_info"))
            with gr.Accordion(t("common.advanced"), open=False):
                steps = w.Slider(label=t("dance.steps"), minimum=1, maximum=lim.max_steps, step=1, value=d.steps)
                guidance_scale = w.guidance_slider(d.guidance_scale)
                seed, randomize = w.seed_row()
            preflight = gr.Markdown(_preflight(DEFAULT.key, "animate", _first_seconds(DEFAULT), d.steps,
                                               d.guidance_scale), elem_classes=["preflight"])
            generate = gr.Button(t("common.generate"), variant="primary")
            w.stop_button()
        with gr.Column(scale=4):
            video, info = w.result_panel()
            skeleton = gr.Video(label=t("dance.skeleton"), interactive=False, buttons=["download"])
    settings = [preset, mode, max_seconds, steps, guidance_scale]
    preset.change(_preset_changed, preset, [max_seconds, steps, guidance_scale], api_visibility="private")
    for control in settings:
        control.change(_preflight, settings, preflight, api_visibility="private", queue=False)
    if EXAMPLES:
        gr.Examples(examples=[[str(path), True] for path in EXAMPLES], inputs=[dance_video, dance_is_skeleton],
                    label=t("dance.examples"),
                    example_labels=[Path(path).stem.replace("_", " ") for path in EXAMPLES])
    inputs = [character_image, dance_video, prompt, negative_prompt, preset, mode, dance_is_skeleton, max_seconds,
              steps, guidance_scale, seed, randomize]
    generate.click(dance, inputs, [video, skeleton, info, seed], api_name=API_NAME, concurrency_id=w.GPU_QUEUE)
