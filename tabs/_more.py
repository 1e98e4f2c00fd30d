"""Under a result: "Extend" (continue it from its last frame) and "Variations" (several seeds at once).

UI only: the work is in pipelines/extend.py and pipelines/variations.py.
"""

from __future__ import annotations

import time

import gradio as gr

from pipelines import store
from tabs import _widgets as w
from tabs.i18n import t


@w.friendly_errors
def extend_video(video: str, prompt: str = "", seed: int = 0, num_frames: int | None = None,
                 progress=gr.Progress()):
    """Continue a text- or image-to-video result from its last frame; the joined video is a new result.

    Args:
        video: An MP4 made by this studio (text or image to video). From gradio_client pass handle_file(path).
        prompt: What happens next; empty continues with the video's own prompt.
        seed: Random seed of the continuation.
        num_frames: Frames to make (the first repeats the video's last frame); None: the model's default.

    Returns:
        The joined MP4 and a line describing how it was made (with its share link).
    """
    from pipelines import extend

    started = time.perf_counter()
    result = extend.run(extend.Request(video=str(video), prompt=prompt or "", seed=int(seed or 0),
                                       num_frames=int(num_frames) if num_frames else None),
                        progress=w.reporter(progress, "progress.extending"))
    saved = store.save(result)
    return str(saved.video), w.info_line(saved, time.perf_counter() - started)


def extend_panel(video: gr.Video, info: gr.Markdown, prompt: gr.Textbox, seed: gr.Number,
                 api_name: str | None = None) -> None:
    button = gr.Button(t("more.extend"), size="sm")
    button.click(extend_video, [video, prompt, seed], [video, info], api_name=api_name,
                 api_visibility="public" if api_name else "private", concurrency_id=w.GPU_QUEUE)


def variations_panel(handler, inputs: list, api_name: str) -> None:
    """A count and a button; the gallery shows every variation, the line below links each result."""
    with gr.Row():
        count = gr.Slider(label=t("more.count"), minimum=2, maximum=4, step=1, value=3, scale=2)
        button = gr.Button(t("more.variations"), size="sm", scale=1)
    gallery = gr.Gallery(label=t("more.gallery"), columns=4, height="auto", allow_preview=True)
    links = gr.Markdown(elem_classes=["result-info"])
    button.click(handler, [*inputs, count], [gallery, links], api_name=api_name, concurrency_id=w.GPU_QUEUE)


def variation_outputs(results: list, started: float) -> tuple[list, str]:
    saved = [store.save(result) for result in results]
    seconds = time.perf_counter() - started
    lines = [f"{index + 1}. {w.info_line(s, seconds)}" for index, s in enumerate(saved)]
    return [(str(s.video), f"seed {s.metadata['settings']['seed']}") for s in saved], "\n".join(lines)
