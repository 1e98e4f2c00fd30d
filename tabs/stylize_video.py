"""Video stylization tab: a source video, a style prompt and an optional style image; one Generate = /stylize_video."""

from __future__ import annotations

import re
import time

import gradio as gr

from pipelines import presets, runtime
from pipelines import stylize_video as pipeline
from tabs import _widgets as w
from tabs import i18n
from tabs.i18n import t

TITLE = "Video stylization"
API_NAME = "stylize_video"
DEFAULT = presets.get(pipeline.TASK, None)
DEFAULT_RULES = pipeline.rules(DEFAULT)
STRENGTH = DEFAULT_RULES.strength or 0.7  # the strength slider's start; only video-to-video uses it
CONTROLS = ("depth", "canny")
# What the pipeline says it is doing, and the language files' text for it.
STAGES = [(re.compile(r"window (?P<window>\d+)/(?P<windows>\d+), step (?P<step>\d+)/(?P<steps>\d+)"), "progress.window"),
          (re.compile(r"(?P<control>\w+) control video"), "progress.control"),
          (re.compile(r"depth maps (?P<done>\d+)/(?P<total>\d+)"), "progress.depth_maps")]


def _stage(what: str, locale: str) -> str:
    for pattern, key in STAGES:
        found = pattern.fullmatch(what)
        if found:
            values = {name: i18n.term(value, locale) for name, value in found.groupdict().items()}
            return i18n.message(key, locale, **values)
    return i18n.message("progress.stylizing", locale)


def _reporter(progress: gr.Progress):
    cancel_key, locale = runtime.SESSION.get(), w.LANGUAGE.get()

    def report(done: int, total: int, what: str) -> None:
        runtime.raise_if_cancelled(cancel_key)  # Stop takes effect at the next step
        progress((done, max(total, 1)), desc=_stage(what, locale))

    return report


@w.friendly_errors
def stylize_video(video: str, prompt: str, style_image: str | None = None, negative_prompt: str = "",
                  preset: str = DEFAULT.key, control: str = "depth", start: float = 0.0, max_seconds: float = 0.0,
                  steps: int = DEFAULT.defaults.steps, guidance_scale: float = DEFAULT.defaults.guidance_scale,
                  strength: float = STRENGTH, seed: int = 0, randomize_seed: bool = False, hub_loras: str = "",
                  progress=gr.Progress()):
    """Restyle a video: keep its structure and motion, change its look. The source's sound is kept.

    Args:
        video: The source video (MP4, MOV, WebM, MKV; any frame rate). From gradio_client pass
            handle_file(path).
        prompt: The look to give it, e.g. "a watercolor painting, soft pastel colors". For the Lucy Edit
            preset, an edit instruction, e.g. "make it snow".
        style_image: Optional image whose look to follow (Wan VACE presets only).
        negative_prompt: What to avoid, e.g. "blurry, low quality".
        preset: Model preset key; the default is Wan VACE 1.3B.
        control: What the VACE presets keep from the source: "depth" or "canny" (edges).
        start: Where to start in the source, in seconds.
        max_seconds: How many seconds to restyle; 0 means the whole video, which must then fit the preset's
            limit (12 s for the default preset). Longer videos are made in overlapping windows.
        steps: Denoising steps per window.
        guidance_scale: How strictly to follow the prompt.
        strength: Video-to-video preset only: how far the result may move from the source (0-1).
        seed: Random seed; the same seed, inputs and settings give the same video.
        randomize_seed: Ignore `seed` and pick a new one.
        hub_loras: Your own LoRAs from the Hugging Face Hub, one per line: "owner/name", optionally
            ", file.safetensors" and ", strength" (default 1.0); at most 4, used for this video only.

    Returns:
        The stylized MP4 (at the model's frame rate, with the source's sound), the control video the model
        followed (None for presets without one), a line describing how it was made, and the seed used.
    """
    started = time.perf_counter()
    used_seed = w.pick_seed(seed, randomize_seed)
    request = pipeline.Request(video=video, prompt=prompt, style_image=style_image or None,
                               negative_prompt=negative_prompt, seed=used_seed, preset=preset, control=control,
                               start=start, max_seconds=max_seconds, steps=steps, guidance_scale=guidance_scale,
                               strength=strength, hub_loras=hub_loras or "")
    w.loading(progress, presets.get(pipeline.TASK, preset))
    saved = w.finished(w.job(pipeline, request, progress, _reporter(progress)))
    windows = w.say("common.info_windows", count=saved.metadata["settings"]["windows"])
    info = f"{w.info_line(saved, time.perf_counter() - started)} · {windows}"
    control_video = saved.previews.get("control")
    return str(saved.video), str(control_video) if control_video else None, info, used_seed


def _preflight(preset_key, steps, guidance_scale, strength, request: gr.Request = None) -> str:
    locale = i18n.language(request)
    try:
        p = presets.get(pipeline.TASK, preset_key)
        rules = pipeline.rules(p)
        window = p.defaults.num_frames / p.defaults.fps
        estimate = pipeline.window_estimate(p, p.defaults.width, p.defaults.height, int(steps),
                                            float(guidance_scale), float(strength) if rules.strength else None)
    except (ValueError, TypeError) as exc:
        return w.warning(exc, locale)
    line = i18n.message("stylize_video.preflight", locale, max_seconds=f"{rules.max_seconds:g}", fps=p.defaults.fps,
                        window=f"{window:.1f}", width=p.defaults.width, height=p.defaults.height)
    if p.tiny:
        return f"{line} · {i18n.message('common.tiny_model', locale)}"
    each = i18n.message("stylize_video.preflight_window", locale, estimate=w.cost_line(estimate, locale))
    return f"{line} · {each}"


def _preset_changed(preset_key):
    p = presets.get(pipeline.TASK, preset_key)
    rules = pipeline.rules(p)
    vace = p.pipeline_class == pipeline.VACE
    return (gr.Slider(maximum=p.limits.max_steps, value=p.defaults.steps),
            gr.Slider(value=p.defaults.guidance_scale),
            gr.Slider(visible=rules.strength is not None, value=rules.strength or STRENGTH),
            gr.Slider(maximum=rules.max_seconds, info=t("stylize_video.length_info") + f" {rules.max_seconds:g}"),
            gr.Radio(visible=vace),
            gr.Image(visible=True) if vace else gr.Image(visible=False, value=None))  # no hidden style image


def build() -> None:
    d, lim = DEFAULT.defaults, DEFAULT.limits
    with gr.Row():
        with gr.Column(scale=5):
            video = gr.Video(label=t("stylize_video.source_video"), sources=["upload"])
            prompt = gr.Textbox(label=t("stylize_video.style_prompt"), lines=2, value="",
                                placeholder=t("stylize_video.prompt_placeholder"))
            with gr.Row():
                style_image = w.ImageFile(label=t("stylize_video.style_image"), type="filepath", value=None, height=260)
                control = gr.Radio(label=t("stylize_video.control"), choices=[(t(f"stylize_video.control_{k}"), k) for k in CONTROLS],
                                   value="depth", info=t("stylize_video.control_info"))
            negative_prompt = gr.Textbox(label=t("common.negative_prompt"), value="",
                                         placeholder=t("common.negative_placeholder"))
            preset = w.model_picker(pipeline.TASK)
            hub_loras = w.lora_field()
            with gr.Row():
                start = gr.Number(label=t("stylize_video.start"), value=0.0, minimum=0.0, precision=2)
                max_seconds = w.Slider(label=t("stylize_video.length"), minimum=0.0, maximum=DEFAULT_RULES.max_seconds,
                                       step=0.5, value=0.0,
                                       info=t("stylize_video.length_info") + f" {DEFAULT_RULES.max_seconds:g}")
            with gr.Accordion(t("common.advanced"), open=False):
                steps = w.Slider(label=t("stylize_video.steps"), minimum=1, maximum=lim.max_steps, step=1,
                                 value=d.steps)
                guidance_scale = w.guidance_slider(d.guidance_scale)
                strength = w.Slider(label=t("stylize_video.strength"), minimum=0.05, maximum=1.0, step=0.05,
                                    value=STRENGTH, visible=DEFAULT_RULES.strength is not None,
                                    info=t("stylize_video.strength_info"))
                seed, randomize = w.seed_row()
            preflight = gr.Markdown(elem_classes=["preflight"])
            generate, stop = w.action_row(t("stylize_video.generate"))
        with gr.Column(scale=4):
            result, info = w.result_panel()
            reuse = w.reuse_seed_button()
            control_video = gr.Video(label=t("stylize_video.control_video"), interactive=False,
                                     autoplay=True, loop=True)
    preset.change(_preset_changed, preset, [steps, guidance_scale, strength, max_seconds, control, style_image],
                  api_visibility="private")
    settings = [preset, steps, guidance_scale, strength]
    w.on_page(_preflight, settings, preflight)
    shapes = str(w.ASSETS / "examples" / "stylize_video" / "shapes.mp4")
    w.examples([("examples.style_watercolor", [shapes, "A watercolor painting, soft pastel colors, visible paper texture"],
                 [shapes, "水彩画，柔和的粉彩色，可见纸张纹理"]),
                ("examples.style_clay", [shapes, "Claymation, stop-motion look, warm studio light"],
                 [shapes, "黏土动画，定格动画质感，温暖的影棚灯光"]),
                ("examples.style_neon", [shapes, "Neon cyberpunk night scene, rain, glowing signs"],
                 [shapes, "霓虹赛博朋克夜景，下着雨，发光的招牌"])],
               [video, prompt], t("stylize_video.examples"))
    inputs = [video, prompt, style_image, negative_prompt, preset, control, start, max_seconds, steps,
              guidance_scale, strength, seed, randomize, hub_loras]
    w.wire_generate(generate, stop, reuse, seed, randomize, stylize_video, inputs,
                    [result, control_video, info, seed], API_NAME)
