"""Every example on every tab, in both languages, is complete: clicking it and pressing Generate makes a video in
smoke mode. Both languages' rows generate (a Chinese row identical to its English one is not run twice)."""

from __future__ import annotations

import importlib

from tabs import TABS, i18n, library
from tabs import _widgets as w
from tests.test_i18n import final


def _example_calls():
    """(tab, label key, locale, handler keyword arguments) for every example row on the page."""
    import app  # built when first needed, as the server fixture does (not while tests are collected)

    table = library.endpoints(app.demo, list(TABS))
    calls = []
    shown_ids = {block._id for block in app.demo.blocks.values()}
    for inputs, rows in w.EXAMPLE_SETS:
        if not all(c._id in shown_ids for c in inputs):
            continue  # a set from another build of the page
        endpoint = next(e for e in table.values() if all(c in e.inputs for c in inputs))
        for key, english, chinese in rows:
            for locale, values in (("en", english), ("zh-CN", chinese)):
                kwargs = {name: component.value for name, component in zip(endpoint.names, endpoint.inputs)}
                kwargs.update({endpoint.names[endpoint.inputs.index(c)]: v for c, v in zip(inputs, values)})
                if "consent" in kwargs:
                    kwargs["consent"] = True  # the one box a person must tick themselves
                calls.append((endpoint.task, key, locale, kwargs))
    return calls


def test_every_tab_has_examples_with_labels_in_both_languages():
    calls = _example_calls()
    assert {task for task, *_ in calls} == set(TABS)
    for _, key, _, _ in calls:
        assert i18n.TEXTS["en"][key] != i18n.TEXTS["zh-CN"][key]


def _distinct(calls):
    """English rows, and Chinese rows whose inputs differ from their English row (translated prompts)."""
    english = {(task, key): kwargs for task, key, locale, kwargs in calls if locale == "en"}
    return [(task, key, locale, kwargs) for task, key, locale, kwargs in calls
            if locale == "en" or kwargs != english[(task, key)]]


def test_each_example_generates_a_video():
    failed = {}
    made = 0
    for task, key, locale, kwargs in _distinct(_example_calls()):
        handler = getattr(importlib.import_module(f"tabs.{task}"), task)
        try:
            video, *_, used_seed = final(handler(**kwargs))
        except Exception as exc:  # noqa: BLE001 - every example is tried; all failures are reported together
            failed[f"{key} ({locale})"] = str(exc)
            continue
        assert video.endswith(".mp4") and isinstance(used_seed, int)
        made += 1
    assert failed == {}
    assert made >= 13
