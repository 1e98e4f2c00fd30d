"""Image to video tab: first frame, optional last frame, prompt, model, fit; one Generate = /image_to_video.

Before generating, the tab shows both frames exactly as the model will see them (output size and crop/pad).
"""

from __future__ import annotations

import time

import gradio as gr

from pipelines import image_to_video as pipeline
from pipelines import presets
from tabs import _more as more
from tabs import _widgets as w
from tabs import i18n
from tabs.i18n import t

TITLE = "Image to video"
API_NAME = "image_to_video"
DEFAULT = presets.get(pipeline.TASK, None)
EXAMPLE_DIR = w.ASSETS / "examples" / "image_to_video"


@w.friendly_errors
def image_to_video(image: str | None, prompt: str, last_image: str | None = None, negative_prompt: str = "",
                   preset: str = DEFAULT.key, num_frames: int = DEFAULT.defaults.num_frames, fit: str = "crop",
                   steps: int = DEFAULT.defaults.steps, guidance_scale: float = DEFAULT.defaults.guidance_scale,
                   seed: int = 0, randomize_seed: bool = False, live_preview: bool = True,
                   hub_loras: str = "", original_prompt: str = "", improve_prompt: bool = False,
                  progress=gr.Progress()):
    """Animate a picture: the video starts on `image` and, if given, ends on `last_image`.

    Args:
        image: The first frame (PNG, JPEG, WebP...). The video takes its aspect ratio.
        prompt: What happens, e.g. "the cat turns its head and blinks, gentle camera push-in".
        last_image: Optional last frame; models without last-frame support refuse it with a message.
        negative_prompt: What to avoid, e.g. "blurry, distorted".
        preset: Model preset key (see the Model dropdown); the default is fast and supports a last frame.
        num_frames: Number of frames; the preset's fps turns it into seconds.
        fit: "crop" (fill the frame, trim edges) or "pad" (keep the whole picture, add black bars), for
            pictures whose shape differs from the output size.
        steps: Denoising steps; more is slower and usually cleaner.
        guidance_scale: How strictly to follow the prompt (1 turns guidance off, as distilled models want).
        seed: Random seed; the same inputs, seed and settings give the same video.
        randomize_seed: Ignore `seed` and pick a new one.
        live_preview: Show a rough picture of the video after each denoising step (in the info output).
        hub_loras: Your own LoRAs from the Hugging Face Hub, one per line: "owner/name", optionally
            ", file.safetensors" and ", strength" (default 1.0); at most 4, used for this video only.
        original_prompt: The person's own prompt when `prompt` is a rewrite by "Improve my prompt" (kept in
            the result's settings beside the prompt used).
        improve_prompt: Rewrite `prompt` with the prompt helper before generating (the original is kept).

    Returns:
        The MP4 file, a line describing how it was made, and the seed used.
    """
    started = time.perf_counter()
    used_seed = w.pick_seed(seed, randomize_seed)
    prompt, original_prompt = w.improved(prompt, original_prompt, improve_prompt, pipeline.TASK, progress)
    request = pipeline.Request(image=image, last_image=last_image, prompt=prompt, negative_prompt=negative_prompt,
                               seed=used_seed, preset=preset, num_frames=int(num_frames), fit=fit, steps=int(steps),
                               guidance_scale=float(guidance_scale), hub_loras=hub_loras or "")
    w.loading(progress, presets.get(pipeline.TASK, preset))
    events = w.job(pipeline, request, progress, w.reporter(progress), preview=bool(live_preview),
                   settings={"original_prompt": original_prompt} if original_prompt else None)
    saved = yield from w.live(events, lambda preview: (gr.skip(), preview, gr.skip()))
    yield str(saved.video), w.info_line(saved, time.perf_counter() - started), used_seed


def _preview(image, last_image, preset_key, fit, num_frames, steps, guidance_scale, request: gr.Request = None):
    """Both frames as the model will see them, and what the request will make."""
    locale = i18n.language(request)
    if not image:
        return None, None, i18n.message("image_to_video.add_first_frame", locale)
    try:
        plan = pipeline.plan(pipeline.Request(image=image, last_image=last_image, prompt="preview",
                                              preset=preset_key, num_frames=int(num_frames), fit=fit,
                                              steps=int(steps), guidance_scale=float(guidance_scale)))
    except (ValueError, TypeError) as exc:
        return None, None, w.warning(exc, locale)
    cost = i18n.message("common.tiny_model", locale) if plan.preset.tiny else w.cost_line(pipeline.estimate(plan), locale)
    line = i18n.message("image_to_video.preflight", locale, width=plan.width, height=plan.height,
                        frames=plan.num_frames, seconds=f"{plan.num_frames / plan.fps:.1f}", cost=cost)
    return plan.frames.first, plan.frames.last, line


def _last_frame_label(preset_key) -> gr.i18n.I18nData:
    rules = pipeline.frame_rules(presets.get(pipeline.TASK, preset_key))
    if rules.last_frame == "optional" and not rules.first_last_trained:
        return t("image_to_video.last_frame_untrained")
    return {"none": t("image_to_video.last_frame_none"),
            "required": t("image_to_video.last_frame_required")}.get(rules.last_frame,
                                                                      t("image_to_video.last_frame_optional"))


def _last_frame_added(last_image, preset_key):
    """A last frame on the default model switches to the default first+last model, which was trained for it."""
    if last_image and preset_key == DEFAULT.key:
        return pipeline.default_preset(last_image).key
    return preset_key


def _preset_changed(preset_key):
    p = presets.get(pipeline.TASK, preset_key)
    return (gr.Slider(minimum=p.limits.min_frames, maximum=p.limits.max_frames, step=p.limits.frame_step,
                      value=p.defaults.num_frames, info=f"{p.defaults.fps} " + t("common.frames_per_second")),
            gr.Slider(maximum=p.limits.max_steps, value=p.defaults.steps),
            gr.Slider(value=p.defaults.guidance_scale),
            gr.Image(label=_last_frame_label(preset_key)))


def build() -> None:
    d, lim = DEFAULT.defaults, DEFAULT.limits
    with gr.Row():
        with gr.Column(scale=5):
            with gr.Row():
                image = w.ImageFile(label=t("image_to_video.first_frame"), type="filepath", sources=["upload", "clipboard"],
                                   height=260)
                last_image = w.ImageFile(label=_last_frame_label(DEFAULT.key), type="filepath",
                                        sources=["upload", "clipboard"], height=260)
            prompt = gr.Textbox(label=t("common.prompt"), lines=3, value="",
                                placeholder=t("image_to_video.prompt_placeholder"))
            original_prompt = w.prompt_helper(prompt, pipeline.TASK)
            negative_prompt = gr.Textbox(label=t("common.negative_prompt"), value="",
                                         placeholder=t("common.negative_placeholder"))
            preset = w.model_picker(pipeline.TASK)
            hub_loras = w.lora_field()
            with gr.Row():
                num_frames = w.Slider(label=t("common.length_frames"), minimum=lim.min_frames, maximum=lim.max_frames,
                                      step=lim.frame_step, value=d.num_frames, info=f"{d.fps} " + t("common.frames_per_second"))
                fit = gr.Radio(label=t("image_to_video.fit"), choices=[(t(f"image_to_video.fit_{name}"), name) for name in pipeline.FITS],
                               value="crop", info=t("image_to_video.fit_info"))
            with gr.Accordion(t("common.advanced"), open=False):
                steps = w.Slider(label=t("common.steps"), minimum=1, maximum=lim.max_steps, step=1, value=d.steps)
                guidance_scale = w.guidance_slider(d.guidance_scale, info=t("image_to_video.guidance_info"))
                seed, randomize = w.seed_row()
            live_preview = w.live_preview_box()
            generate, stop = w.action_row()
        with gr.Column(scale=4) as right:
            with gr.Row():
                first_seen = gr.Image(label=t("image_to_video.first_seen"), interactive=False, height=200)
                last_seen = gr.Image(label=t("image_to_video.last_seen"), interactive=False, height=200)
            preflight = gr.Markdown(elem_classes=["preflight"])
            video, info = w.result_panel()
            reuse = w.reuse_seed_button()
    last_image.upload(_last_frame_added, [last_image, preset], preset, api_visibility="private", queue=False)
    preset.change(_preset_changed, preset, [num_frames, steps, guidance_scale, last_image], api_visibility="private")
    settings = [image, last_image, preset, fit, num_frames, steps, guidance_scale]
    w.on_page(_preview, settings, [first_seen, last_seen, preflight])
    first, last = str(EXAMPLE_DIR / "sunrise_first.png"), str(EXAMPLE_DIR / "sunrise_last.png")
    w.examples([("examples.i2v_sunrise", [first, last, "The sun rises over a calm sea, gentle waves, time-lapse"],
                 [first, last, "太阳从平静的海面升起，微波荡漾，延时摄影"]),
                ("examples.i2v_dawn", [first, None, "Waves roll in at dawn, seagulls fly past"],
                 [first, None, "黎明时分海浪涌来，海鸥飞过"])],
               [image, last_image, prompt], t("image_to_video.examples"))
    inputs = [image, prompt, last_image, negative_prompt, preset, num_frames, fit, steps, guidance_scale, seed,
              randomize, live_preview, hub_loras, original_prompt,
              w.hidden_switch()]
    w.wire_generate(generate, stop, reuse, seed, randomize, image_to_video, inputs, [video, info, seed], API_NAME)
    with right:
        with gr.Accordion(t("more.title"), open=False):
            more.extend_panel(video, info, prompt, seed)
