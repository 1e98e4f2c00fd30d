"""Text to video tab: prompt, model, length, aspect; advanced sampling; one Generate = /text_to_video."""

from __future__ import annotations

import time

import gradio as gr

from pipelines import presets
from pipelines import text_to_video as pipeline
from tabs import _more as more
from tabs import _widgets as w
from tabs import i18n
from tabs.i18n import t

TITLE = "Text to video"
API_NAME = "text_to_video"
DEFAULT = presets.get(pipeline.TASK, None)
# (label key, inputs in English, inputs in Chinese): Wan reads Chinese prompts as well as English ones.
EXAMPLES = [("examples.t2v_fox", ["A red fox running through fresh snow at dawn, cinematic, slow motion"],
             ["黎明时分，一只红狐狸在新雪中奔跑，电影感，慢动作"]),
            ("examples.t2v_city", ["Neon-lit city street at night in the rain, camera slowly pans right"],
             ["雨夜里霓虹灯照亮的城市街道，镜头缓缓向右平移"]),
            ("examples.t2v_cat", ["A cat basking in the sun on a windowsill, cinematic"], ["一只猫在窗台上晒太阳，电影感"])]


@w.friendly_errors
def text_to_video(prompt: str, negative_prompt: str = "", preset: str = DEFAULT.key,
                  num_frames: int = DEFAULT.defaults.num_frames, aspect: str = "16:9",
                  steps: int = DEFAULT.defaults.steps, guidance_scale: float = DEFAULT.defaults.guidance_scale,
                  seed: int = 0, randomize_seed: bool = False, cache: str = "off", live_preview: bool = True,
                  hub_loras: str = "", original_prompt: str = "", improve_prompt: bool = False,
                  progress=gr.Progress()):
    """Generate a video from a text prompt.

    Args:
        prompt: What the video shows, e.g. "a red fox running through fresh snow, cinematic".
        negative_prompt: What to avoid, e.g. "blurry, low quality".
        preset: Model preset key (see the Model dropdown); the default is the best general model.
        num_frames: Number of frames; the preset's fps turns it into seconds.
        aspect: One of 16:9, 9:16, 1:1, 4:3, 3:4.
        steps: Denoising steps; more is slower and usually cleaner.
        guidance_scale: How strictly to follow the prompt.
        seed: Random seed; the same seed and settings give the same video.
        randomize_seed: Ignore `seed` and pick a new one.
        cache: Speed-up by reusing transformer outputs between steps: "off", "first-block" or "taylorseer".
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
    request = pipeline.Request(prompt=prompt, negative_prompt=negative_prompt, seed=used_seed, preset=preset,
                               num_frames=int(num_frames), aspect=aspect, steps=int(steps),
                               guidance_scale=float(guidance_scale), cache=cache, hub_loras=hub_loras or "")
    w.loading(progress, presets.get(pipeline.TASK, preset))
    events = w.job(pipeline, request, progress, w.reporter(progress), preview=bool(live_preview),
                   settings={"original_prompt": original_prompt} if original_prompt else None)
    saved = yield from w.live(events, lambda preview: (gr.skip(), preview, gr.skip()))
    yield str(saved.video), w.info_line(saved, time.perf_counter() - started), used_seed


@w.friendly_errors
def text_to_video_variations(prompt: str, negative_prompt: str = "", preset: str = DEFAULT.key,
                             num_frames: int = DEFAULT.defaults.num_frames, aspect: str = "16:9",
                             steps: int = DEFAULT.defaults.steps,
                             guidance_scale: float = DEFAULT.defaults.guidance_scale, seed: int = 0,
                             randomize_seed: bool = False, cache: str = "off", hub_loras: str = "", count: int = 3,
                             progress=gr.Progress()):
    """Make 2 to 4 videos of one prompt with consecutive seeds (seed, seed + 1, ...), each its own result.

    Args:
        prompt: What the videos show.
        negative_prompt: What to avoid.
        preset: Model preset key.
        num_frames: Number of frames of each video.
        aspect: One of 16:9, 9:16, 1:1, 4:3, 3:4.
        steps: Denoising steps.
        guidance_scale: How strictly to follow the prompt.
        seed: The first seed.
        randomize_seed: Ignore `seed` and pick a new first one.
        cache: "off", "first-block" or "taylorseer".
        hub_loras: Your own LoRAs from the Hub, one per line (as for /text_to_video).
        count: How many videos: 2, 3 or 4.

    Returns:
        A gallery of the videos (with their seeds) and one line per result with its share link.
    """
    from pipelines import variations

    started = time.perf_counter()
    request = pipeline.Request(prompt=prompt, negative_prompt=negative_prompt, seed=w.pick_seed(seed, randomize_seed),
                               preset=preset, num_frames=int(num_frames), aspect=aspect, steps=int(steps),
                               guidance_scale=float(guidance_scale), cache=cache, hub_loras=hub_loras or "")
    results = variations.run(pipeline.TASK, request, int(count), progress=w.reporter(progress))
    return more.variation_outputs(results, started)


def _preflight(preset_key, num_frames, aspect, steps, guidance_scale, request: gr.Request = None) -> str:
    locale = i18n.language(request)
    try:
        plan = pipeline.plan(pipeline.Request(prompt="preview", preset=preset_key, num_frames=int(num_frames),
                                              aspect=aspect, steps=int(steps), guidance_scale=float(guidance_scale)))
    except (ValueError, TypeError) as exc:
        return w.warning(exc, locale)
    cost = i18n.message("common.tiny_model", locale) if plan.preset.tiny else w.cost_line(pipeline.estimate(plan), locale)
    return i18n.message("text_to_video.preflight", locale, width=plan.width, height=plan.height,
                        frames=plan.num_frames, seconds=f"{plan.num_frames / plan.fps:.1f}", cost=cost)


def _preset_changed(preset_key):
    p = presets.get(pipeline.TASK, preset_key)
    return (gr.Slider(minimum=p.limits.min_frames, maximum=p.limits.max_frames, step=p.limits.frame_step,
                      value=p.defaults.num_frames, info=f"{p.defaults.fps} " + t("common.frames_per_second")),
            gr.Slider(maximum=p.limits.max_steps, value=p.defaults.steps),
            gr.Slider(value=p.defaults.guidance_scale))


def build() -> None:
    d, lim = DEFAULT.defaults, DEFAULT.limits
    with gr.Row():
        with gr.Column(scale=5):
            prompt = gr.Textbox(label=t("common.prompt"), lines=3, value="",
                                placeholder=t("text_to_video.prompt_placeholder"))
            original_prompt = w.prompt_helper(prompt, pipeline.TASK, api_name="improve_prompt")
            negative_prompt = gr.Textbox(label=t("common.negative_prompt"), value="",
                                         placeholder=t("common.negative_placeholder"))
            preset = w.model_picker(pipeline.TASK)
            hub_loras = w.lora_field()
            with gr.Row():
                num_frames = w.Slider(label=t("common.length_frames"), minimum=lim.min_frames, maximum=lim.max_frames,
                                       step=lim.frame_step, value=d.num_frames, info=f"{d.fps} " + t("common.frames_per_second"))
                aspect = gr.Radio(label=t("text_to_video.aspect"), choices=list(presets.ASPECTS), value="16:9")
            with gr.Accordion(t("common.advanced"), open=False):
                steps = w.Slider(label=t("common.steps"), minimum=1, maximum=lim.max_steps, step=1, value=d.steps)
                guidance_scale = w.guidance_slider(d.guidance_scale)
                cache = gr.Radio(label=t("text_to_video.cache"), value="off",
                                 choices=[(t(f"text_to_video.cache_{kind.replace('-', '_')}"), kind)
                                          for kind in ("off", "first-block", "taylorseer")],
                                 info=t("text_to_video.cache_info"))
                seed, randomize = w.seed_row()
            live_preview = w.live_preview_box()
            preflight = gr.Markdown(elem_classes=["preflight"])
            generate, stop = w.action_row()
        with gr.Column(scale=4) as right:
            video, info = w.result_panel()
            reuse = w.reuse_seed_button()
    settings = [preset, num_frames, aspect, steps, guidance_scale]
    preset.change(_preset_changed, preset, [num_frames, steps, guidance_scale], api_visibility="private")
    w.on_page(_preflight, settings, preflight)
    w.examples(EXAMPLES, [prompt], t("text_to_video.examples"))
    inputs = [prompt, negative_prompt, preset, num_frames, aspect, steps, guidance_scale, seed, randomize, cache,
              live_preview, hub_loras, original_prompt,
              w.hidden_switch()]
    w.wire_generate(generate, stop, reuse, seed, randomize, text_to_video, inputs, [video, info, seed], API_NAME)
    with right:
        with gr.Accordion(t("more.title"), open=False):
            more.extend_panel(video, info, prompt, seed, api_name="extend_video")
            more.variations_panel(text_to_video_variations, [prompt, negative_prompt, preset, num_frames, aspect,
                                                             steps, guidance_scale, seed, randomize, cache,
                                                             hub_loras], api_name="text_to_video_variations")
