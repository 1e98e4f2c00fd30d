"""Digital human lip-sync tab: a portrait (photo or video) + speech (audio, microphone or text) -> /lip_sync."""

from __future__ import annotations

import time
from pathlib import Path

import gradio as gr
import numpy as np

from pipelines import face, limits, media, presets, runtime
from pipelines import lip_sync as pipeline
from tabs import _widgets as w
from tabs import i18n
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
    w.loading(progress, presets.get(pipeline.TASK, preset), "progress.speech")
    saved = w.finished(w.job(pipeline, request, progress, w.reporter(progress, "progress.lip_sync")))
    return (str(saved.video), str(saved.previews["crop"]), w.info_line(saved, time.perf_counter() - started),
            used_seed)


def _check_portrait(path, request: gr.Request = None):
    """On upload: preview the file as a picture or a video, and say at once when it cannot be used (not a
    picture or video, unreadable, too large, no face in a photo)."""
    locale = i18n.language(request)
    hidden = gr.Image(value=None, visible=False), gr.Video(value=None, visible=False)
    if not path:
        return (*hidden, "")
    try:
        kind = pipeline.portrait_kind(Path(path))
        if kind == "video":
            media.read_video(path, fps=DEFAULT.defaults.fps, max_seconds=1.0, with_audio=False, what="portrait video")
            return (hidden[0], gr.Video(value=path, visible=True),
                    i18n.message("lip_sync.portrait_ok_video", locale, name=Path(path).name))
        picture = media.read_image(path, what="portrait")
    except ValueError as exc:
        return (*hidden, w.warning(exc, locale))
    try:
        faces = face.detect_faces(np.asarray(picture.convert("RGB")))
    except runtime.HubUnavailable:  # the detector cannot be fetched now: generating will say so
        faces = [None]
    if not faces:
        return (gr.Image(value=path, visible=True), hidden[1],
                "⚠ " + i18n.message("error.lip_sync.no_face_found_in_the", locale, where=i18n.term("photo", locale)))
    return (gr.Image(value=path, visible=True), hidden[1],
            i18n.message("lip_sync.portrait_ok_photo", locale, name=Path(path).name))


def _limits(preset_key, request: gr.Request = None) -> str:
    locale = i18n.language(request)
    p = presets.get(pipeline.TASK, preset_key)
    seconds = min(p.limits.max_frames / p.defaults.fps, limits.current().audio_seconds)  # what the pipeline allows
    where = i18n.message("common.tiny_model" if p.tiny else "lip_sync.face_size", locale)
    return i18n.message("lip_sync.limits", locale, seconds=f"{seconds:g}", fps=p.defaults.fps, where=where)


def build() -> None:
    with gr.Row():
        with gr.Column(scale=5):
            portrait = gr.File(label=t("lip_sync.portrait_upload"), file_types=["image", "video"],
                               type="filepath")
            with gr.Row():
                photo = gr.Image(label=t("lip_sync.portrait"), interactive=False, visible=False, height=220)
                clip = gr.Video(label=t("lip_sync.portrait"), interactive=False, visible=False, height=220)
            portrait_note = gr.Markdown(elem_classes=["preflight"])
            audio = gr.Audio(label=t("lip_sync.audio"), type="filepath", sources=["upload", "microphone"],
                             value=None)
            text = gr.Textbox(label=t("lip_sync.text"), lines=3, value="",
                              placeholder=t("lip_sync.text_placeholder"))
            consent = gr.Checkbox(label=t("lip_sync.consent"), value=False)
            preset = w.model_picker(pipeline.TASK)
            with gr.Accordion(t("common.advanced"), open=False):
                seed, randomize = w.seed_row()
            limits = gr.Markdown(elem_classes=["preflight"])
            generate, stop = w.action_row()
        with gr.Column(scale=4):
            video, info = w.result_panel()
            crop = gr.Image(label=t("lip_sync.crop_preview"), interactive=False, type="filepath", height=220)
            reuse = w.reuse_seed_button()
    portrait.change(_check_portrait, portrait, [photo, clip, portrait_note], api_visibility="private",
                    show_progress="hidden")
    w.on_page(_limits, [preset], limits)
    drawn = str(w.ASSETS / "examples" / "lip_sync" / "drawn_face.png")
    # The speech model reads English only, so both languages' examples speak English.
    hello = [drawn, "Hello! Welcome to the video studio. Let's make something together."]
    seeds = [drawn, "Every video made here keeps its seed, so you can make it again."]
    w.examples([("examples.lip_hello", hello, hello), ("examples.lip_seeds", seeds, seeds)], [portrait, text],
               t("lip_sync.examples"))
    inputs = [portrait, audio, text, consent, preset, seed, randomize]
    w.wire_generate(generate, stop, reuse, seed, randomize, lip_sync, inputs, [video, crop, info, seed], API_NAME)
