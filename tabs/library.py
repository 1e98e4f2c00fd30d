""""My videos": this browser session's results (newest first) with share link, re-run and delete; plus
"load settings from a video" and the `?remix=<id>` link of share pages, which fill a tab from a saved result.

Filling is generic: a tab's public handler parameter names are the keys of the settings saved with every
result, so any tab can be refilled without knowing its layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from pipelines import media, store
from tabs import _widgets as w
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
        return str(record.folder / record.metadata["inputs"][name])
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


def build(demo: gr.Blocks, tabs: gr.Tabs, tasks: list[str]) -> None:
    table = endpoints(demo, tasks)
    all_inputs = [c for e in table.values() for c in e.inputs]
    ids = gr.State([])
    chosen = gr.State("")
    chosen_task = gr.State("")
    with gr.Tab(t("tab.library"), id="library") as tab:
        gr.Markdown(t("library.intro"))
        gallery = gr.Gallery(label=t("library.gallery"), columns=4, height="auto", allow_preview=False)
        with gr.Row():
            refresh = gr.Button(t("library.refresh"), size="sm")
            rerun = gr.Button(t("library.rerun"), size="sm", variant="primary")
            remove = gr.Button(t("library.delete"), size="sm", variant="stop")
        details = gr.Markdown()
        with gr.Accordion(t("library.load_settings"), open=False):
            dropped = gr.File(label=t("library.drop_file"), file_types=[".mp4"])
            load_note = gr.Markdown()

    def listing(request: gr.Request):
        records = store.history(request.session_hash)
        return [(str(r.video), _caption(r)) for r in records], [r.id for r in records]

    def select(result_ids, evt: gr.SelectData):
        record = store.get(result_ids[evt.index]) if evt.index < len(result_ids) else None
        if record is None:
            return "", "This video is gone."
        s = record.settings
        return record.id, (f"**{record.task.replace('_', ' ').capitalize()}** · seed {s.get('seed')} · "
                           f"{s.get('preset', '')} · share: [/r/{record.id}](/r/{record.id})")

    def delete(result_id, request: gr.Request):
        if not result_id:
            raise gr.Error("Pick a video in the gallery first.")
        if not store.delete(result_id, request.session_hash):
            raise gr.Error("That video can't be deleted from this session.")
        records = store.history(request.session_hash)
        return [(str(r.video), _caption(r)) for r in records], [r.id for r in records], "", "Deleted."

    def reopen(result_id):
        record = store.get(result_id) if result_id else None
        if record is None:
            raise gr.Error("Pick a video in the gallery first.")
        return [*fill(record, table), record.task]

    def from_file(path):
        if not path:
            return [gr.skip()] * (1 + len(all_inputs)) + [""]
        record = record_from_video(path, set(table))
        if record is None:
            raise gr.Error("This MP4 carries no Video Studio settings. Drop a video made with this app.")
        return [*fill(record, table), f"Loaded the settings of a {record.task.replace('_', ' ')} video."]

    def remix(request: gr.Request):
        record = store.get(request.query_params.get("remix", ""))
        return fill(record, table)

    tab.select(listing, None, [gallery, ids], api_visibility="private")
    refresh.click(listing, None, [gallery, ids], api_visibility="private")
    gallery.select(select, ids, [chosen, details], api_visibility="private")
    remove.click(delete, chosen, [gallery, ids, chosen, details], api_visibility="private")
    # Re-run = refill the result's tab, then press that tab's Generate button (its own event does the work).
    rerun.click(reopen, chosen, [tabs, *all_inputs, chosen_task], api_visibility="private").then(
        None, chosen_task, None, js="(task) => { document.getElementById('generate-' + task)?.click(); }")
    dropped.upload(from_file, dropped, [tabs, *all_inputs, load_note], api_visibility="private")
    demo.load(remix, None, [tabs, *all_inputs], api_visibility="private")
