""""My videos": the results of this browser and of a signed-in account, newest first, with share link, re-run
and delete; plus "load settings from a video" and the `?remix=<id>` link of share pages, which fill a tab from
a saved result.

Filling is generic: a tab's public handler parameter names are the keys of the settings saved with every
result, so any tab can be refilled without knowing its layout.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from pipelines import media, store
from tabs import _widgets as w
from tabs import i18n
from tabs.i18n import t

TITLE = "My videos"


@dataclass
class Endpoint:
    task: str
    names: list[str]
    inputs: list[gr.components.Component]
    button_id: str | None


def endpoints(demo: gr.Blocks, tasks: list[str]) -> dict[str, Endpoint]:
    """Each tab's public Generate event: its parameter names, input components and button."""
    found = {}
    for fn in demo.fns.values():
        if fn.api_name in tasks and fn.name != "load_fn":
            trigger = fn.targets[0][0] if fn.targets else None
            button = demo.blocks.get(trigger) if trigger is not None else None
            if button is not None and not button.elem_id:
                button.elem_id = f"generate-{fn.api_name}"
            found[fn.api_name] = Endpoint(fn.api_name, w.api_parameters(fn.fn), list(fn.inputs),
                                          getattr(button, "elem_id", None))
    return found


def _value_for(name: str, record: store.Record):
    """The saved value of one parameter: a setting, or an input file kept with the result."""
    if name in record.metadata.get("inputs", {}):
        kept = record.folder / record.metadata["inputs"][name]
        return w.deliverable(str(kept)) if kept.is_file() else None
    if name == "randomize_seed":
        return False  # the saved seed is the point
    return record.settings.get(name, gr.skip())


def fill(record: store.Record | None, table: dict[str, Endpoint]) -> list:
    """Updates for every tab's inputs (only the result's own tab changes) plus the selected tab."""
    updates = []
    for endpoint in table.values():
        mine = record is not None and record.task == endpoint.task
        updates += [_value_for(n, record) if mine else gr.skip() for n in endpoint.names]
    selected = gr.Tabs(selected=record.task) if record is not None and record.task in table else gr.skip()
    return [selected, *updates]


def record_from_video(path: str, tasks: set[str]) -> store.Record | None:
    """The result an MP4 of ours came from: the indexed one, or (made elsewhere) its embedded settings."""
    meta = media.read_metadata(path)
    if not meta:
        return None
    record = store.get(meta.get("id", ""))
    if record is None and meta.get("task") in tasks:
        record = store.Record(meta.get("id", ""), meta["task"], 0.0, "", {**meta, "inputs": {}}, Path(path).parent)
    return record


def _caption(record: store.Record) -> str:
    s = record.settings
    text = str(s.get("prompt") or s.get("text") or record.task.replace("_", " "))
    return (text[:60] + "…") if len(text) > 60 else text


def _say(key: str, request, **values) -> str:
    """A message the server makes, in the language of the visitor's browser."""
    return i18n.text(key, (getattr(request, "headers", None) or {}).get("accept-language"), **values)


def hf_login_enabled() -> bool:
    """A Space with `hf_oauth: true` gets these variables; then people can sign in to keep their history (with
    gradio's `oauth` extra installed, which Spaces add for such a Space)."""
    return bool(os.environ.get("OAUTH_CLIENT_ID") and os.environ.get("SPACE_ID")
                and importlib.util.find_spec("authlib"))


# Re-run: once the tab is refilled, press its Generate button (the tab's content mounts when it is selected, so
# the button may take a moment to appear).
PRESS_GENERATE_JS = """(task) => {
    const press = (tries) => {
        const button = document.getElementById('generate-' + task);
        if (button) button.click(); else if (tries > 0) setTimeout(() => press(tries - 1), 100);
    };
    if (task) press(50);
}"""


def build(demo: gr.Blocks, tabs: gr.Tabs, tasks: list[str]) -> None:
    table = endpoints(demo, tasks)
    all_inputs = [c for e in table.values() for c in e.inputs]
    with gr.Tab(t("tab.library"), id="library") as tab:
        # Kept inside the tab: anything else placed in gr.Tabs shifts the tab bar's count (a second tab appears).
        ids = gr.State([])
        chosen = gr.State("")
        gr.Markdown(t("library.signed_in_intro") if hf_login_enabled() else t("library.intro"))
        if hf_login_enabled():
            gr.LoginButton(size="sm")
        empty = gr.Markdown(t("library.empty"), elem_id="library-empty", elem_classes=["library-empty"])
        gallery = gr.Gallery(label=t("library.gallery"), columns=5, height=320, object_fit="cover",
                             allow_preview=False, elem_id="library-gallery")
        with gr.Row():
            refresh = gr.Button(t("library.refresh"), size="sm")
            rerun = gr.Button(t("library.rerun"), size="sm", variant="primary", interactive=False,
                              elem_id="library-rerun")
            remove = gr.Button(t("library.delete"), size="sm", variant="stop", interactive=False,
                               elem_id="library-delete")
        with gr.Row():
            with gr.Column(scale=3):
                selected = gr.Video(label=t("library.selected"), height=360, interactive=False, visible=False,
                                    autoplay=True, loop=True, elem_id="library-selected")
            with gr.Column(scale=2):
                details = gr.Markdown()
        # The page's script needs the task to press its Generate button; gr.State never reaches the page.
        rerun_task = gr.Textbox(visible="hidden", elem_id="library-rerun-task")
        with gr.Accordion(t("library.load_settings"), open=False):
            dropped = gr.File(label=t("library.drop_file"), file_types=[".mp4"])
            load_note = gr.Markdown()

    def nothing_selected() -> list:  # (updates made at build time would be placed on the page as components)
        return ["", gr.Video(value=None, visible=False), "", gr.Button(interactive=False), gr.Button(interactive=False)]

    def shown(records: list[store.Record]) -> list:
        return [[(w.deliverable(str(r.video)), _caption(r)) for r in records], [r.id for r in records],
                gr.Markdown(visible=not records)]

    def listing(request: gr.Request):
        return [*shown(store.history(w.owner_ids(request))), *nothing_selected()]

    def select(result_ids, evt: gr.SelectData, request: gr.Request):
        index = evt.index if isinstance(evt.index, int) else -1
        record = store.get(result_ids[index]) if 0 <= index < len(result_ids) else None
        if record is None:
            return ["", gr.Video(value=None, visible=False), _say("library.gone", request),
                    gr.Button(interactive=False), gr.Button(interactive=False)]
        s = record.settings
        task = _say(f"tab.{record.task}", request) if record.task in table else record.task
        line = (f"**{task}** · {_say('common.seed', request)} {s.get('seed')} · "
                f"{s.get('preset', '')} · {_say('library.share', request)}: [/r/{record.id}](/r/{record.id})")
        return [record.id, gr.Video(value=w.deliverable(str(record.video)), visible=True), line,
                gr.Button(interactive=True),
                gr.Button(interactive=True)]

    def delete(result_id, request: gr.Request):
        if not result_id:
            raise gr.Error(_say("library.pick_first", request))
        if not store.delete(result_id, w.owner_ids(request)):
            raise gr.Error(_say("library.not_yours", request))
        gr.Info(_say("library.deleted", request))
        return [*shown(store.history(w.owner_ids(request))), *nothing_selected()]

    def reopen(result_id, request: gr.Request):
        record = store.get(result_id) if result_id else None
        if record is None:
            raise gr.Error(_say("library.pick_first", request))
        return [*fill(record, table), record.task]

    def from_file(path, request: gr.Request):
        if not path:
            return [gr.skip()] * (1 + len(all_inputs)) + [""]
        record = record_from_video(path, set(table))
        if record is None:
            raise gr.Error(_say("library.no_settings", request))
        task = _say(f"tab.{record.task}", request) if record.task in table else record.task
        return [*fill(record, table), _say("library.loaded", request, task=task)]

    def remix(request: gr.Request):
        record = store.get(request.query_params.get("remix", ""))
        return fill(record, table)

    listed = [gallery, ids, empty, chosen, selected, details, rerun, remove]
    tab.select(listing, None, listed, api_visibility="private")
    refresh.click(listing, None, listed, api_visibility="private")
    gallery.select(select, ids, [chosen, selected, details, rerun, remove], api_visibility="private")
    remove.click(delete, chosen, listed, api_visibility="private")
    # Re-run = refill the result's tab and put its task where the page can read it, then press its Generate.
    rerun.click(reopen, chosen, [tabs, *all_inputs, rerun_task], api_visibility="private").then(
        None, rerun_task, None, js=PRESS_GENERATE_JS)
    dropped.upload(from_file, dropped, [tabs, *all_inputs, load_note], api_visibility="private")
    demo.load(remix, None, [tabs, *all_inputs], api_visibility="private")
    demo.load(listing, None, listed, api_visibility="private")  # history survives a reload (same browser)
