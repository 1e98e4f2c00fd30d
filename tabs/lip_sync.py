"""Digital human lip-sync tab: a portrait (photo or video) + speech (audio, microphone or text) -> /lip_sync."""

from __future__ import annotations

import time
from pathlib import Path

import gradio as gr

from pipelines import lip_sync as pipeline
from pipelines import limits, presets
from pipelines.store import save
from tabs import _widgets as w
from tabs.i18n import t

TITLE = "Digital human lip-sync"
API_NAME = "lip_sync"
DEFAULT = presets.get(pipeline.TASK, None)


@w.friendly_errors
def lip_sync(portrait: str | None, audio: str | None = None, text: str = "", consent: bool = False,
             preset: str = DEFAULT.key, seed: int = 0, randomize_seed: bool = False, progress=gr.Progress()):
    """Make a portrait speak: its lips follow the speech, and the speech is the video's sound track.

    Args:
        portrait: A photo (PNG, JPEG, WebP, BMP) or a short video (MP4, MOV, WebM, MKV) of one face. A photo is
            the source of every frame; a video plays forward and back for as long as the speech lasts.
        audio: The speech: any common audio file or a recording (it becomes 16 kHz mono). Wins over `text`.
        text: Text to speak (English, up to 1000 characters) when no audio is given.
        consent: Must be true: you confirm that the face is yours, or that its owner agreed, and that the
            video will not be used to deceive.
        preset: Model preset key (see the Model dropdown).
        seed: Random seed; the same inputs, seed and preset give the same video.
        randomize_seed: Ignore `seed` and pick a new one.

    Returns:
        The MP4 file (25 fps, with the speech), a PNG of the first frame showing the face crop and the area the
        new mouth may change, a line describing how it was made, and the seed used.
    """
    started = time.perf_counter()
    used_seed = w.pick_seed(seed, randomize_seed)
    request = pipeline.Request(portrait=portrait, audio=audio, text=text or "", consent=bool(consent),
                               seed=used_seed, preset=preset)
    progress(0, desc="Reading the speech and finding the face (the first run downloads the models)")
    result = pipeline.run(request, progress=w.reporter(progress, "Lip-syncing"))
    progress(1.0, desc="Encoding the video")
    saved = save(result)
    return (str(saved.video), str(saved.previews["crop"]), w.info_line(saved, time.perf_counter() - started),
            used_seed)


def _show_portrait(path):
    """Preview the uploaded file as a picture or as a video, whichever it is."""
    kind = None
    if path:
        try:
            kind = pipeline.portrait_kind(Path(path))
        except ValueError:
            kind = None
    return (gr.Image(value=path if kind == "image" else None, visible=kind == "image"),
            gr.Video(value=path if kind == "video" else None, visible=kind == "video"))


def _limits(preset_key) -> str:
    p = presets.get(pipeline.TASK, preset_key)
    seconds = min(p.limits.max_frames / p.defaults.fps, limits.current().audio_seconds)  # what the pipeline allows
    where = "tiny test model on CPU" if p.tiny else "face redrawn at 256 px"
    return f"Speech up to {seconds:g} s · {p.defaults.fps} fps · {where}"


def build() -> None:
    with gr.Row():
        with gr.Column(scale=5):
            portrait = gr.File(label=t("lip_sync.portrait_upload"), file_types=["image", "video"],
                               type="filepath")
            with gr.Row():
                photo = gr.Image(label=t("lip_sync.portrait"), interactive=False, visible=False, height=220)
                clip = gr.Video(label=t("lip_sync.portrait"), interactive=False, visible=False, height=220)
            audio = gr.Audio(label=t("lip_sync.audio"), type="filepath", sources=["upload", "microphone"],
                             value=None)
            text = gr.Textbox(label=t("lip_sync.text"), lines=3, value="",
                              placeholder=t("lip_sync.text_placeholder"))
            consent = gr.Checkbox(label=t("lip_sync.consent"), value=False)
            preset = w.model_picker(pipeline.TASK)
            with gr.Accordion(t("common.advanced"), open=False):
                seed, randomize = w.seed_row()
            limits = gr.Markdown(_limits(DEFAULT.key), elem_classes=["preflight"])
            generate = gr.Button(t("common.generate"), variant="primary")
        with gr.Column(scale=4):
            video, info = w.result_panel()
            crop = gr.Image(label=t("lip_sync.crop_preview"), interactive=False, type="filepath", height=220)
    portrait.change(_show_portrait, portrait, [photo, clip], api_visibility="private", queue=False)
    preset.change(_limits, preset, limits, api_visibility="private", queue=False)
    face = str(w.ASSETS / "examples" / "lip_sync" / "drawn_face.png")
    gr.Examples(examples=[[face, "Hello! Welcome to the video studio. Let's make something together."],
                          [face, "Every video made here keeps its seed, so you can make it again."]],
                inputs=[portrait, text], label=t("lip_sync.examples"),
                example_labels=["Drawn face says hello", "Drawn face explains seeds"])
    inputs = [portrait, audio, text, consent, preset, seed, randomize]
    generate.click(lip_sync, inputs, [video, crop, info, seed], api_name=API_NAME, concurrency_id=w.GPU_QUEUE)
