"""UI pieces every tab shares: seed row, model picker, result panel, progress, and friendly errors.

No torch here: building the UI must stay fast and GPU-free.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import logging
import os
import random
import re
import secrets
import shutil
import tempfile
import time
import typing
from pathlib import Path

import gradio as gr

from pipelines import checks, jobs, owners, presets, runtime, store
from tabs import fair_use, i18n
from tabs.i18n import preset_label, t, text

ASSETS = Path(__file__).resolve().parent.parent / "assets"
GPU_QUEUE = "gpu"  # every Generate button shares one GPU queue
log = logging.getLogger("studio")
# Set for the length of one request by `friendly_errors`: the visitor's language.
LANGUAGE = contextvars.ContextVar("language", default=i18n.DEFAULT)


def say(key: str, **values) -> str:
    """Text for the visitor of the request being handled, in their language."""
    return i18n.message(key, LANGUAGE.get(), **values)


def seed_row(value: int = 0) -> tuple[gr.Number, gr.Checkbox]:
    """Seed and "Random seed": on in the page, so Generate twice gives two videos (the seed used is shown). The
    component's own value, off, stays the API's default, so a script that gives a seed gets that seed."""
    with gr.Row():
        seed = gr.Number(label=t("common.seed"), value=value, precision=0, minimum=0, maximum=2**32 - 1,
                         info=t("common.seed_info"))
        randomize = gr.Checkbox(label=t("common.random_seed"), value=False, info=t("common.random_seed_info"))
    gr.on(None, lambda: True, None, randomize, api_visibility="private", queue=False, show_progress="hidden")
    return seed, randomize


class Slider(gr.Slider):
    """A slider whose range the pipeline checks, so API callers get a message naming the setting to change."""

    def preprocess(self, payload):
        return payload


class ImageFile(gr.Image):
    """An image upload handed to the pipeline untouched: the pipeline reads it (EXIF rotation, transparency on
    white) and, when the file is not a usable picture, says so instead of failing inside the upload."""

    is_template = True  # rendered by the Image component's frontend

    def preprocess(self, payload):
        if payload is None or payload.path is None:
            return super().preprocess(payload)
        return str(payload.path)


def prompt_helper(prompt: gr.Textbox, task: str, api_name: str | None = None) -> gr.Textbox:
    """"Improve my prompt" under a prompt box: the rewrite replaces the prompt (the person can edit it) and the
    original shows below it; returns the original-prompt box, an input of the tab's Generate."""
    improve = gr.Button(t("enhance.button"), size="sm", variant="secondary")
    original = gr.Textbox(label=t("enhance.original"), value="", visible=False, lines=1,
                          info=t("enhance.original_info"))

    def improve_prompt(prompt: str, original_prompt: str = ""):
        """Rewrite a short prompt in the detailed style the video model was trained on (same language).

        Args:
            prompt: The prompt to improve, e.g. "a cat on a roof".
            original_prompt: The person's own first prompt, when this one is already a rewrite.

        Returns:
            The rewritten prompt and the original one.
        """
        from pipelines import enhance

        try:
            rewritten = enhance.improve(original_prompt or prompt, task=task)
        except ValueError as exc:
            raise gr.Error(str(exc)) from None
        return rewritten, original_prompt or prompt

    improve.click(improve_prompt, [prompt, original], [prompt, original], api_name=api_name,
                  api_visibility="public" if api_name else "private", concurrency_id=GPU_QUEUE).success(
        lambda: gr.Textbox(visible=True), None, original, api_visibility="private", queue=False)
    return original


def hidden_switch() -> gr.Checkbox:
    """An API-only on/off parameter (e.g. `improve_prompt`): the page has a button for it instead."""
    return gr.Checkbox(value=False, visible=False)


def improved(prompt: str, original_prompt: str, improve: bool, task: str, progress) -> tuple[str, str]:
    """(prompt to use, the person's original or ""): rewritten first when an API caller asks for it."""
    if not improve:
        return prompt, (original_prompt or "").strip()
    from pipelines import enhance

    progress(0, desc=say("progress.improving"))
    original = (original_prompt or prompt or "").strip()
    return enhance.improve(original, task=task), original


def lora_field() -> gr.Textbox:
    """"Add a LoRA": the person's own LoRAs from the Hub, one per line (checked by pipelines/user_loras.py)."""
    with gr.Accordion(t("loras.title"), open=False):
        return gr.Textbox(label=t("loras.field"), value="", lines=2, placeholder=t("loras.placeholder"),
                          info=t("loras.info"), elem_classes=["hub-loras"])


def live_preview_box() -> gr.Checkbox:
    return gr.Checkbox(label=t("common.live_preview"), value=True, info=t("common.live_preview_info"))


def guidance_slider(value: float, **extra) -> Slider:
    """How strictly to follow the prompt, over the range the pipelines accept."""
    return Slider(label=t("common.guidance"), minimum=0.0, maximum=checks.MAX_GUIDANCE, step=0.5, value=value,
                  **extra)


def pick_seed(seed, randomize: bool) -> int:
    if randomize:
        return random.randint(0, 2**32 - 1)
    try:
        return int(seed)
    except (TypeError, ValueError):
        raise UserError(say("common.seed_whole", seed=repr(seed))) from None


def model_picker(task: str) -> gr.Dropdown:
    table = presets.presets(task)
    return gr.Dropdown(label=t("common.model"), choices=[(preset_label(task, key), key) for key in table],
                       value=next(iter(table)), info=t("common.model_info"),
                       allow_custom_value=True)  # unknown keys reach the pipeline, whose error lists the valid ones


def preset_name(task: str, key: str, locale: str) -> str:
    """A preset's picker text in a visitor's language (for text the server writes, e.g. the result line)."""
    name = f"preset.{task}.{key}"
    return i18n.message(name, locale) if name in i18n.TEXTS[i18n.DEFAULT] else key


def result_panel(label: str | gr.i18n.I18nData = t("common.result")) -> tuple[gr.Video, gr.Markdown]:
    video = gr.Video(label=label, autoplay=True, loop=True, interactive=False, buttons=["download", "share"])
    info = gr.Markdown(elem_classes=["result-info"])
    return video, info


def reporter(progress: gr.Progress, key: str = "progress.denoising"):
    """Adapt a pipeline's progress(step, total) to gr.Progress (which gradio_client also receives)."""

    cancel_key, language = runtime.SESSION.get(), LANGUAGE.get()

    def report(step: int, total: int) -> None:
        runtime.raise_if_cancelled(cancel_key)  # called between denoising steps: Stop takes effect at the next one
        progress((step, total), desc=i18n.message(key, language, step=step, total=total))

    return report


def loading(progress: gr.Progress, preset: presets.Preset, key: str | None = None) -> None:
    """Say what getting the model involves right now: nothing (already loaded), the local cache, a download, or
    (smoke mode) building a tiny model; `key` names what else happens before the first step."""
    label = preset.label.split(" ·")[0]
    state = runtime.model_state(preset)
    text = say({"tiny": "progress.smoke", "memory": "progress.in_memory", "cache": "progress.from_cache",
                "download": "progress.downloading"}[state], model=label)
    progress(0, desc=f"{text} · {say(key)}" if key else text)


def job(pipeline, request, progress: gr.Progress, report, preview: bool = False, settings: dict | None = None):
    """Run a tab's request wherever jobs run (here, or on a cluster's GPU worker) and save its result: yields
    ("preview", image) while denoising, then ("saved", Saved) (see `live`, or `finished` without previews)."""
    cancel_key = runtime.SESSION.get()

    def queued(place: int) -> None:
        runtime.raise_if_cancelled(cancel_key)  # Stop works while waiting for a GPU too
        progress(0, desc=say("progress.queued", place=place))

    return jobs.make(pipeline, request, report, preview=preview, settings=settings, queued=queued,
                     encoding=lambda: progress(1.0, desc=say("progress.encoding")))


def finished(events):
    """The saved result of `job`'s events (a tab without live previews)."""
    return jobs.saved(events)


def preview_markdown(image) -> str:
    """A live-preview picture (H, W, 3) uint8 as an inline image for the result's info panel."""
    import base64
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return f"![](data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()})"


def live(events, shown):
    """Pass a job's events on: each preview as `shown(markdown)` (a tuple of updates for the handler's outputs);
    returns what the job ended with (its saved result). A stopped run takes its preview away with it."""
    try:
        for kind, value in events:
            if kind == "preview":
                yield shown(preview_markdown(value))
            else:
                return value
    except runtime.Cancelled:
        yield shown("")
        raise
    raise RuntimeError("the generation ended without a result")


def info_line(saved, seconds: float) -> str:
    s = saved.metadata["settings"]
    size = f" {s['width']}x{s['height']}" if "width" in s and "height" in s else ""
    task = saved.metadata.get("task") or s.get("task", "")
    model = preset_name(task, s["preset"], LANGUAGE.get()) if s.get("preset") and task else s.get("preset", "")
    return say("common.info_line", seed=s.get("seed"), model=model, frames=s.get("num_frames", ""), size=size,
               fps=s.get("fps"), seconds=f"{seconds:.1f}", id=saved.id)


class UserError(gr.Error):
    """A request that cannot be made as given: one log line, no traceback."""

    def __init__(self, text: str, **kwargs):
        kwargs.setdefault("title", say("common.error_title"))
        super().__init__(text, print_exception=False, **kwargs)


def cost_line(estimate, locale: str) -> str:
    """A pre-flight estimate (memory, time, offload) in the visitor's language."""
    values = dict(vram=f"{estimate.vram_gb:.0f}", seconds=f"{estimate.seconds:.0f}", gpu=estimate.gpu)
    if estimate.fits:
        return i18n.message("common.estimate_fits", locale, **values)
    return i18n.message("common.estimate_offload", locale, profile=estimate.profile, **values)


# An absolute path of two or more parts (not part of a URL or a ratio): replaced by its last part.
_SERVER_PATH = re.compile(r"""(?<![\w.:/~])~?/(?:[^\s'"`<>/]+/)+([^\s'"`<>/]+)""")


def without_paths(message: str) -> str:
    """A message as a visitor may see it: files named by their own base name, never where the server keeps them."""
    return _SERVER_PATH.sub(lambda match: match.group(1), message)


def visitor_text(exc: Exception, language) -> str:
    """A pipeline's complaint as a visitor reads it: in their language, naming files by their own names only."""
    return without_paths(i18n.error_text(str(exc), language))


def warning(exc: Exception, request) -> str:
    """A pre-flight check's complaint, shown in place of the estimate."""
    return "⚠ " + visitor_text(exc, request)


HANDOFF_MINUTES = 10  # Gradio copies a returned file into its cache at once; the hand-off copy is then litter


def deliverable(path: str) -> str:
    """A result file as handed to Gradio, which copies it into its cache for the browser. Gradio may not read the
    outputs folder (see app.launch_kwargs), so results are linked (or copied) into a fresh folder of the
    system's temp folder, which Gradio accepts files from but never serves."""
    handoff = Path(tempfile.gettempdir()) / "video-studio-handoff"
    _prune(handoff)
    place = Path(path)
    target = handoff / secrets.token_hex(16) / place.name
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(place, target)
    except OSError:  # another file system
        shutil.copyfile(place, target)
    return str(target)


def _prune(handoff: Path) -> None:
    if not handoff.is_dir():
        return
    cutoff = time.time() - HANDOFF_MINUTES * 60
    for folder in handoff.iterdir():
        try:
            if folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            pass


def _deliverables(value):
    """Every result file a handler returns, made deliverable; other values unchanged."""
    if isinstance(value, tuple | list):
        return type(value)(_deliverables(item) for item in value)
    if isinstance(value, str) and Path(value).is_relative_to(store.outputs_root()) and Path(value).is_file():
        return deliverable(value)
    return value


def signed_in_user(request) -> str:
    """The visitor's login: Gradio's own auth, or their Hugging Face account when the Space uses HF login."""
    if request is None:
        return ""
    if getattr(request, "username", None):
        return request.username
    scope = getattr(getattr(request, "request", None), "scope", None) or {}
    info = (scope.get("session") or {}).get("oauth_info") or {}  # set by Gradio's HF OAuth routes
    if info.get("expires_at") and info["expires_at"] < time.time():
        return ""
    return (info.get("userinfo") or {}).get("preferred_username") or ""


def owner_ids(request) -> list[str]:
    """Who is asking, as the owner ids kept in the index: their login first (the same from any browser), then
    the secret the server gave their browser (see server.OwnerCookie). Never anything the page chooses."""
    if request is None:
        return []
    http = getattr(request, "request", None)
    token = (getattr(http, "scope", None) or {}).get(owners.SCOPE_KEY)
    if not token and http is not None:
        token = owners.verify(http.cookies.get(owners.COOKIE))
    ids = [owners.user_owner(signed_in_user(request)), owners.browser_owner(token or "")]
    return [owner for owner in ids if owner]


def friendly_errors(handler):
    """Every failure reaches the user as a gr.Error that says what to change, in their language; the server
    keeps running. A user's mistake logs one line; only real failures log a traceback.

    The wrapper also asks gradio for the request, so results are filed under whoever made them (the "My videos"
    history) and Stop reaches this page's run; `request` is not part of the public API.
    """

    signature = inspect.signature(handler)
    own_params = len(signature.parameters)
    name = handler.__name__

    @contextlib.contextmanager
    def owned_and_friendly(args, kwargs):
        request = kwargs.pop("request", args[own_params] if len(args) > own_params else None)
        session = getattr(request, "session_hash", None) or ""
        language = LANGUAGE.set(i18n.language(request))
        try:
            fair_use.admit(request)  # refuses, saying when to try again, past the per-visitor hourly limit
        except gr.Error as exc:
            log.info("%s: refused: %s", name, exc)
            LANGUAGE.reset(language)
            raise UserError(exc.message, title=exc.title) from None
        owner = store.OWNER.set(next(iter(owner_ids(request)), ""))
        running = runtime.SESSION.set(session)
        runtime.clear_cancel(session)  # a Stop pressed before this request started is not for it
        try:
            yield args[:own_params]
        except gr.Error as exc:
            fair_use.refund(request)  # bad input costs no GPU time, so it does not count
            exc.message = without_paths(str(exc.message))
            log.info("%s: refused: %s", name, exc.message)
            exc.print_exception = False
            raise
        except runtime.Cancelled:
            runtime.free_memory()
            log.info("%s: stopped by the visitor", name)
            raise UserError(say("common.stopped"), title=say("common.stopped_title")) from None
        except ValueError as exc:  # pipelines' input checks carry the actual values
            fair_use.refund(request)
            log.info("%s: bad input: %s", name, exc)
            raise UserError(visitor_text(exc, LANGUAGE.get())) from None
        except store.DiskFull:
            log.error("the disk is full: a result was not saved")
            raise UserError(say("errors.disk_full"), duration=None) from None
        except jobs.WorkerLost:
            log.error("%s: the cluster workers running it died twice", name)
            raise UserError(say("errors.worker_lost"), duration=None) from None
        except jobs.NoWorkers as exc:
            log.error("%s: %s", name, exc)
            raise UserError(say("errors.no_workers"), duration=None) from None
        except runtime.HubUnavailable as exc:
            log.warning("%s: %s", name, exc)
            raise UserError(without_paths(str(exc)), duration=None) from None
        except Exception as exc:
            if runtime.is_out_of_memory(exc):
                runtime.free_memory()
                log.warning("%s: out of GPU memory", name)
                raise UserError(say("common.out_of_memory"), duration=None) from None
            log.exception("%s failed", name)
            raise UserError(say("common.failed", kind=type(exc).__name__)) from None
        finally:
            runtime.SESSION.reset(running)
            store.OWNER.reset(owner)
            LANGUAGE.reset(language)

    if inspect.isgeneratorfunction(handler):  # streaming handlers (live preview): the same rules for every step
        def guarded(args, kwargs):
            with owned_and_friendly(args, kwargs) as own_args:
                for item in handler(*own_args, **kwargs):
                    yield _deliverables(item)

        @functools.wraps(handler)
        def wrapped(*args, **kwargs):
            # gradio may resume a generator in a fresh context each time: keep one, so the owner set at the
            # start is the owner when the result is saved.
            context = contextvars.copy_context()
            steps = guarded(args, kwargs)
            try:
                while True:
                    try:
                        item = context.run(next, steps)
                    except StopIteration:
                        return
                    yield item
            finally:
                context.run(steps.close)
    else:
        @functools.wraps(handler)
        def wrapped(*args, **kwargs):
            with owned_and_friendly(args, kwargs) as own_args:
                return _deliverables(handler(*own_args, **kwargs))

    # gradio fills parameters annotated gr.Request only when they are positional.
    request_param = inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None,
                                      annotation=gr.Request)
    wrapped.__signature__ = signature.replace(parameters=[*signature.parameters.values(), request_param])
    wrapped.__annotations__ = {**typing.get_type_hints(handler), "request": gr.Request}
    return wrapped


def api_parameters(handler) -> list[str]:
    """The public parameter names of a handler, in the order of its inputs."""
    skip = {"progress", "request"}
    return [name for name in inspect.signature(handler).parameters if name not in skip]


def action_row(label: gr.i18n.I18nData | None = None) -> tuple[gr.Button, gr.Button]:
    """The tab's Generate button and, beside it, its Stop button (shown only while this tab generates)."""
    with gr.Row(elem_classes=["action-row"]):
        generate = gr.Button(label or t("common.generate"), variant="primary", scale=4)
        stop = gr.Button(t("common.stop"), variant="stop", visible=False, scale=1, min_width=100,
                         elem_classes=["stop-button"])
    return generate, stop


def reuse_seed_button() -> gr.Button:
    """Under a result: keep its seed for the next run (shown once there is a result)."""
    return gr.Button(t("common.reuse_seed"), size="sm", visible=False, elem_classes=["reuse-seed"])


def _stop(request: gr.Request):
    runtime.request_cancel(request.session_hash)
    gr.Info(i18n.message("common.stopping", request), title=i18n.message("common.stopped_title", request))


def _keep_seed(seed, request: gr.Request):
    gr.Info(i18n.message("common.seed_kept", request, seed=seed), title=i18n.message("common.seed", request))
    return False


def wire_generate(generate: gr.Button, stop: gr.Button, reuse: gr.Button, seed: gr.Number,
                  randomize: gr.Checkbox, handler, inputs: list, outputs: list, api_name: str):
    """Generate runs `handler` as the public endpoint `api_name` on the shared GPU queue; Stop shows while it
    runs; after a result, "Reuse this seed" turns "Random seed" off so the shown seed is used again."""
    generate.click(lambda: gr.Button(visible=True), None, stop, queue=False, api_visibility="private",
                   show_progress="hidden")
    event = generate.click(handler, inputs, outputs, api_name=api_name, concurrency_id=GPU_QUEUE)
    for after in (event.success, event.failure):  # (`then` is not run after a failure)
        after(lambda: gr.Button(visible=False), None, stop, queue=False, api_visibility="private",
              show_progress="hidden")
    event.success(lambda: gr.Button(visible=True), None, reuse, queue=False, api_visibility="private",
                  show_progress="hidden")
    # Queued (an unqueued event's message is dropped) outside the GPU queue, so it runs at once.
    stop.click(_stop, None, None, api_visibility="private", concurrency_limit=None, concurrency_id="stop",
               show_progress="hidden")
    reuse.click(_keep_seed, seed, randomize, api_visibility="private", concurrency_limit=None,
                concurrency_id="seed", show_progress="hidden")
    return event


def on_page(fn, inputs: list, output) -> None:
    """Text the server writes for the visitor (in their language): filled when the page loads and again when
    any of `inputs` changes."""
    gr.on(None, fn, inputs, output, api_visibility="private", queue=False, show_progress="hidden")


EXAMPLE_SETS: list[tuple[list, list[tuple[str, list, list]]]] = []  # (inputs, rows) of every examples table


def examples(rows: list[tuple[str, list, list]], inputs: list, label: gr.i18n.I18nData) -> None:
    """Example rows (label key, inputs for English visitors, inputs for Chinese ones), labelled in each
    language: the page shows the set for the visitor's language (example labels are plain text to the page)."""
    EXAMPLE_SETS.append((inputs, rows))
    shown = []
    for locale in i18n.LOCALES:
        column = 1 if locale == i18n.DEFAULT else 2
        shown.append(gr.Examples(examples=[row[column] for row in rows], inputs=inputs, label=label,
                                 example_labels=[i18n.message(row[0], locale) for row in rows],
                                 visible=locale == i18n.DEFAULT).dataset)

    def pick(request: gr.Request):
        wanted = i18n.language(request)
        return [gr.Dataset(visible=locale == wanted) for locale in i18n.LOCALES]

    gr.on(None, pick, None, shown, api_visibility="private", queue=False, show_progress="hidden")
