"""UI text in English and Simplified Chinese; the browser's language picks one.

Texts live in assets/i18n/<locale>.json (key -> text). Components get `t(key)`, a marker the page translates,
so visible labels change language while values, API names and handlers stay the same. Text the server makes
for one visitor (info lines, progress, pre-flight estimates, errors) is chosen from the request's language with
`message(key, request, **values)`.

The pipelines raise ValueError with English text carrying the actual values (API and CLI users read it as is).
`error_text` finds the language file's "error.*" template that the English text was made from and fills the
visitor's language's template with the same values, so a zh-CN page shows the message in Chinese.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import gradio as gr

I18N_DIR = Path(__file__).resolve().parent.parent / "assets" / "i18n"

LOCALES = ("en", "zh-CN")
DEFAULT = "en"
PLACEHOLDER = re.compile(r"\{[^{}]*\}")


def translations(locale: str) -> dict[str, str]:
    return json.loads((I18N_DIR / f"{locale}.json").read_text(encoding="utf-8"))


TEXTS = {locale: translations(locale) for locale in LOCALES}
I18N = gr.I18n(**TEXTS)


def t(key: str) -> gr.i18n.I18nData:
    """The text for `key` in the visitor's language (English for other languages)."""
    if key not in TEXTS[DEFAULT]:  # a typo fails when the app is built, not silently on the page
        raise KeyError(f"No UI text named {key!r} in {I18N_DIR / 'en.json'}.")
    return I18N(key)


def language(request) -> str:
    """The supported locale a request asks for (Accept-Language, by preference); any zh-* or plain zh is
    Simplified Chinese. `request` may also be a locale name, or None (English)."""
    if request is None:
        return DEFAULT
    if isinstance(request, str):
        header = request
    else:
        headers = getattr(request, "headers", None) or {}
        header = headers.get("accept-language", "") if hasattr(headers, "get") else ""
    ranked = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((-quality, position, tag.strip().lower()))
    for _, _, tag in sorted(ranked):
        primary = tag.split("-")[0]
        if primary == "zh":
            return "zh-CN"
        if primary == "en":
            return "en"
    return DEFAULT


def message(key: str, request=None, **values) -> str:
    """The text for `key` in the request's language, with `{name}` placeholders filled from `values`."""
    table = TEXTS[language(request)]
    text = table.get(key, TEXTS[DEFAULT][key])
    return text.format(**values) if values else text


def locale_for(accept_language: str | None) -> str:
    """The studio's language for a browser's Accept-Language header."""
    return language(accept_language or "")


def text(key: str, accept_language: str | None = None, **values) -> str:
    """A message for one visitor, in their browser's language (share pages and other server-built text)."""
    return message(key, accept_language or "", **values)


def preset_label(task: str, key: str) -> gr.i18n.I18nData:
    """A model picker entry: name, speed ("fast" / "best quality"), the GPU it needs and its licence
    (keys `preset.<task>.<preset>`; a preset without one fails when the app is built)."""
    name = f"preset.{task}.{key}"
    if name not in I18N.translations["en"]:
        raise KeyError(f"No picker label {name!r} in {I18N_DIR / 'en.json'}.")
    return I18N(name)


def term(text: str, locale: str) -> str:
    """A value inside a message ("portrait", "dance video") in the visitor's language, when the language files
    name it (`term.<English>`); anything else (file names, numbers, model names) stays as it is."""
    return TEXTS[locale].get(f"term.{text}", text)


@functools.cache
def _error_patterns() -> list[tuple[str, re.Pattern, list[str]]]:
    """(key, pattern matching the English text made from that template, its placeholders), most specific first."""
    found = []
    for key, template in TEXTS[DEFAULT].items():
        if not key.startswith("error."):
            continue
        names = PLACEHOLDER.findall(template)
        literal = PLACEHOLDER.split(template)
        pattern = "(.+?)".join(re.escape(part) for part in literal)
        found.append((key, re.compile(pattern, re.S), names, len("".join(literal))))
    found.sort(key=lambda item: -item[3])
    return [(key, pattern, names) for key, pattern, names, _ in found]


def error_text(english: str, request=None) -> str:
    """A pipeline's English error message in the request's language (unchanged when no template made it)."""
    locale = language(request)
    if locale == DEFAULT:
        return english
    for key, pattern, names in _error_patterns():
        match = pattern.fullmatch(english)
        if match is None:
            continue
        text = TEXTS[locale].get(key)
        if text is None:
            return english
        for name, value in zip(names, match.groups()):
            text = text.replace(name, term(value, locale))
        return text
    return english


# Gradio's page picks its language from the browser's, but knows no plain "zh" (it shows English then). This
# script, placed first in the page's <head>, reports a plain or unlisted Chinese browser as zh-CN.
CHINESE_BROWSER_SCRIPT = (
    "<script>(() => { const lang = navigator.language || ''; "
    "if (/^zh/i.test(lang) && !/^zh-(CN|TW)$/i.test(lang)) "
    "Object.defineProperty(navigator, 'language', {get: () => 'zh-CN'}); })();</script>")


class ChineseBrowserAsChinese:
    """ASGI middleware: adds CHINESE_BROWSER_SCRIPT to the app's HTML page (GET /)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") != "GET" or scope.get("path") not in ("/", ""):
            return await self.app(scope, receive, send)
        started = {}
        body = []

        async def capture(event):
            if event["type"] == "http.response.start":
                started.update(event)
                return
            if event["type"] != "http.response.body":
                return await send(event)
            body.append(event.get("body", b""))
            if event.get("more_body"):
                return
            payload = b"".join(body)
            headers = [(k, v) for k, v in started.get("headers", []) if k.lower() != b"content-length"]
            if any(k.lower() == b"content-type" and v.startswith(b"text/html") for k, v in headers):
                payload = payload.replace(b"<head>", b"<head>" + CHINESE_BROWSER_SCRIPT.encode(), 1)
            await send({**started, "headers": [*headers, (b"content-length", str(len(payload)).encode())]})
            await send({"type": "http.response.body", "body": payload})

        await self.app(scope, receive, capture)
