"""The page a visitor sees, held against a reviewed record (tests/page_layout.json): every component's texts (as
language-file keys), defaults, ranges, visibility and place, and every event's endpoint name, queue, inputs and
outputs. A change to one of them fails here until the record is renewed on purpose:

    STUDIO_UPDATE_LAYOUT=1 python -m pytest tests/test_page_layout.py

Components and events added later are not in the record and pass; only what the record holds is compared.
Model choices are left out (the preset tables are tested on their own).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import gradio as gr
import re

TRANSLATED = re.compile(r'__i18n__\{"__type__": "translation_metadata", "key": "([^"]+)"\}')
RECORD = Path(__file__).with_name("page_layout.json")
# Per-build identifiers and values that are not part of what the page shows.
SKIPPED = {"_id", "key", "proxy_url", "preserved_by_key", "name", "component_class_id", "_selectable", "samples",
           "sample_labels", "component_props", "root", "api_info", "example_inputs", "delete_callback", "class_id"}


def _plain(value):
    """A config value without per-run detail: language-file texts by key, files by their own name."""
    if isinstance(value, gr.i18n.I18nData):
        return f"t:{value.key}"
    if isinstance(value, dict):
        if value.get("__type__") == "translation_metadata":
            return f"t:{value['key']}"
        return {k: _plain(v) for k, v in value.items() if k not in SKIPPED}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, str) and "__i18n__" in value:  # a text joined with a language-file text
        return TRANSLATED.sub(lambda match: f"t:{match.group(1)}", value)
    if isinstance(value, str) and os.path.isabs(value):
        return Path(value).name
    return value


def _ident(block) -> str:
    for name in ("label", "elem_id", "value"):
        value = getattr(block, name, None)
        if isinstance(value, gr.i18n.I18nData):
            return f"t:{value.key}"
        if name == "elem_id" and value:
            return value
    return ""


def page_layout(demo: gr.Blocks) -> dict:
    """{address: settings} of every component and event; an address is tab/type:label#n (n counts repeats)."""
    blocks, addresses, seen = {}, {}, Counter()

    def walk(block, tab: str, parent: str) -> None:
        if isinstance(block, gr.Tab):
            tab = str(block.id)
        here = f"{tab}/{type(block).__name__}:{_ident(block)}"
        seen[here] += 1
        address = f"{here}#{seen[here]}"
        addresses[block._id] = address
        config = {k: v for k, v in block.get_config().items() if k not in SKIPPED}
        if str(config.get("label")) == "t:common.model" or _plain(config.get("label")) == "t:common.model":
            config.pop("choices", None)
        blocks[address] = {"in": parent, **_plain(config)}
        for child in getattr(block, "children", []) or []:
            walk(child, tab, address)

    for child in demo.children:
        walk(child, "page", "")
    events, seen_events = {}, Counter()
    fn_addresses = {}
    for fn in demo.fns.values():
        triggers = ",".join(f"{addresses.get(target, 'page')}.{kind}" for target, kind in fn.targets)
        here = f"{triggers}->{getattr(fn, 'name', '')}"
        seen_events[here] += 1
        fn_addresses[fn._id] = f"{here}#{seen_events[here]}"
    for fn in demo.fns.values():
        config = fn.get_config()
        events[fn_addresses[fn._id]] = {
            "inputs": [addresses.get(i, "?") for i in config["inputs"]],
            "outputs": [addresses.get(i, "?") for i in config["outputs"]],
            # private events are numbered by gradio in build order: only public names are part of the page
            "api_name": config["api_name"] if config["api_visibility"] == "public" else None,
            "api_visibility": config["api_visibility"], "queue": config["queue"],
            "show_progress": config["show_progress"], "js": config["js"],
            "after": fn_addresses.get(config["trigger_after"]), "only_on_success": config["trigger_only_on_success"],
            "only_on_failure": config["trigger_only_on_failure"], "trigger_mode": config["trigger_mode"],
            "concurrency_id": "own" if str(fn.concurrency_id).isdigit() else fn.concurrency_id,
            "concurrency_limit": str(fn.concurrency_limit),
        }
    return {"components": blocks, "events": events}


def _difference(wanted: dict, found: dict | None) -> str:
    if found is None:
        return "missing"
    return ", ".join(f"{k}: {wanted.get(k)!r} -> {found.get(k)!r}" for k in sorted(set(wanted) | set(found))
                     if wanted.get(k) != found.get(k))


def test_the_page_matches_its_reviewed_layout():
    import app  # built when first needed, as the server fixture does

    now = json.loads(json.dumps(page_layout(app.demo), default=str))
    if os.environ.get("STUDIO_UPDATE_LAYOUT"):
        RECORD.write_text(json.dumps(now, indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
    record = json.loads(RECORD.read_text(encoding="utf-8"))
    changed = [f"{part} {address}: " + _difference(wanted, now[part].get(address))
               for part in ("components", "events") for address, wanted in record[part].items()
               if now[part].get(address) != wanted]
    assert not changed, ("The page changed (renew tests/page_layout.json with STUDIO_UPDATE_LAYOUT=1 if meant):\n"
                         + "\n".join(changed[:20]))
