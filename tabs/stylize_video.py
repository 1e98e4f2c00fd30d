"""Video stylization tab: a source video, a style prompt and an optional style image; one Generate = /stylize_video."""

from __future__ import annotations

import time

import gradio as gr

from pipelines import presets
from pipelines import stylize_video as pipeline
from pipelines.store import save
from tabs import _widgets as w
from tabs.i18n import t

TITLE = "Video stylization"
API_NAME = "stylize_video"
DEFAULT = presets.get(pipeline.TASK, None)
DEFAULT_RULES = pipeline.rules(DEFAULT)
STRENGTH = DEFAULT_RULES.strength or 0.7  # the strength slider's start; only video-to-video uses it
CONTROLS = {"depth": "Depth (shapes and distance)", "canny": "Edges (outlines, finer detail)"}


def _reporter(progress: gr.Progress):
    def report(done: int, total: int, what: str) -> None:
        progress((done, max(total, 1)), desc=f"Stylizing: {what}")

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
    progress(0, desc="Reading the video and loading the models (the first run downloads them)")
    result = pipeline.run(request, progress=_reporter(progress))
    progress(1.0, desc="Encoding the video")
    saved = save(result)
    s = saved.metadata["settings"]
    windows = f"{s['windows']} window{'s' if s['windows'] > 1 else ''}"
    info = f"{w.info_line(saved, time.perf_counter() - started)} · {windows}"
    control_video = saved.previews.get("control")
    return str(saved.video), str(control_video) if control_video else None, info, used_seed


def _preflight(preset_key, steps, guidance_scale, strength) -> str:
    try:
        p = presets.get(pipeline.TASK, preset_key)
        rules = pipeline.rules(p)
        window = p.defaults.num_frames / p.defaults.fps
        estimate = pipeline.window_estimate(p, p.defaults.width, p.defaults.height, int(steps),
                                            float(guidance_scale), float(strength) if rules.strength else None)
    except (ValueError, TypeError) as exc:
        return f"⚠ {exc}"
    line = (f"Up to {rules.max_seconds:g} s at {p.defaults.fps} fps, made in {window:.1f}-s windows "
            f"at about {p.defaults.width}x{p.defaults.height} pixels, in the source's own shape")
    if p.tiny:
        return f"{line} · tiny test model on CPU"
    return f"{line} · each window {estimate.line()}"


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
                style_image = w.ImageFile(label=t("stylize_video.style_image"), type="filepath", value=None, height=180)
                control = gr.Radio(label=t("stylize_video.control"), choices=[(v, k) for k, v in CONTROLS.items()],
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
            preflight = gr.Markdown(_preflight(DEFAULT.key, d.steps, d.guidance_scale, STRENGTH),
                                    elem_classes=["preflight"])
            generate = gr.Button(t("stylize_video.generate"), variant="primary")
        with gr.Column(scale=4):
            result, info = w.result_panel()
            control_video = gr.Video(label=t("stylize_video.control_video"), interactive=False,
                                     autoplay=True, loop=True)
    preset.change(_preset_changed, preset, [steps, guidance_scale, strength, max_seconds, control, style_image],
                  api_visibility="private")
    settings = [preset, steps, guidance_scale, strength]
    for widget in settings:
        widget.change(_preflight, settings, preflight, api_visibility="private", queue=False)
    shapes = str(w.ASSETS / "examples" / "stylize_video" / "shapes.mp4")
    gr.Examples(
        examples=[[shapes, "A watercolor painting, soft pastel colors, visible paper texture"],
                  [shapes, "Claymation, stop-motion look, warm studio light"],
                  [shapes, "Neon cyberpunk night scene, rain, glowing signs"]],
        inputs=[video, prompt], label=t("stylize_video.examples"),
        example_labels=["Watercolor", "Claymation", "Neon cyberpunk"])
    inputs = [video, prompt, style_image, negative_prompt, preset, control, start, max_seconds, steps,
              guidance_scale, strength, seed, randomize, hub_loras]
    generate.click(stylize_video, inputs, [result, control_video, info, seed], api_name=API_NAME,
                   concurrency_id=w.GPU_QUEUE)
