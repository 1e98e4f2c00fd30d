"""UI text in English and Simplified Chinese; the browser's language picks one.

Texts live in assets/i18n/<locale>.json (key -> text). Components get `t(key)`, a marker the page translates,
so visible labels change language while values, API names and handlers stay the same.
"""

from __future__ import annotations

import json
from pathlib import Path

import gradio as gr

I18N_DIR = Path(__file__).resolve().parent.parent / "assets" / "i18n"

LOCALES = ("en", "zh-CN")


def translations(locale: str) -> dict[str, str]:
    return json.loads((I18N_DIR / f"{locale}.json").read_text(encoding="utf-8"))


I18N = gr.I18n(**{locale: translations(locale) for locale in LOCALES})


def t(key: str) -> gr.i18n.I18nData:
    """The text for `key` in the visitor's language (English for other languages)."""
    if key not in I18N.translations["en"]:  # a typo fails when the app is built, not silently on the page
        raise KeyError(f"No UI text named {key!r} in {I18N_DIR / 'en.json'}.")
    return I18N(key)


def locale_for(accept_language: str | None) -> str:
    """The studio's language for a browser's Accept-Language header: Chinese if it prefers zh, else English."""
    first = (accept_language or "").split(",")[0].strip().lower()
    return "zh-CN" if first.startswith("zh") else "en"


def text(key: str, accept_language: str | None = None, **values) -> str:
    """A message for one visitor, in their browser's language, with `{name}` fields filled in (for text built
    on the server, e.g. error messages and share pages, which the page's own translation never sees)."""
    table = I18N.translations.get(locale_for(accept_language), {})
    template = table.get(key) or I18N.translations["en"][key]
    return template.format(**values)
def preset_label(task: str, key: str) -> gr.i18n.I18nData:
    """A model picker entry: name, speed ("fast" / "best quality"), the GPU it needs and its licence
    (keys `preset.<task>.<preset>`; a preset without one fails when the app is built)."""
    name = f"preset.{task}.{key}"
    if name not in I18N.translations["en"]:
        raise KeyError(f"No picker label {name!r} in {I18N_DIR / 'en.json'}.")
    return I18N(name)
