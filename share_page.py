"""The share page of one result: the video, its prompt, the settings a person cares about in plain words (the
rest behind a fold), Remix and Download, and Open Graph tags so a pasted link unfurls with the video.

Text comes from the language files (`share.*` keys) in the visitor's language; every value is escaped.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable

from pipelines import presets, store
from tabs.i18n import locale_for, translations

SHOWN_APART = {"prompt", "text", "task"}  # shown above the settings


def translator(accept_language: str) -> Callable[..., str]:
    texts, english = translations(locale_for(accept_language)), translations("en")

    def t(key: str, **values) -> str:
        text = texts.get(key) or english[key]
        return text.format(**values) if values else text

    return t


def _model(record: store.Record) -> str:
    key = record.settings.get("preset")
    try:
        return presets.get(record.task, key).label
    except (KeyError, ValueError):
        return str(key or "")


def plain_settings(record: store.Record, t) -> list[tuple[str, str]]:
    """(label, value) for the settings a person cares about, in words, leaving out what a result lacks."""
    s = record.settings
    rows = [(t("share.model"), _model(record)), (t("share.seed"), s.get("seed"))]
    if s.get("width") and s.get("height"):
        rows.append((t("share.size"), t("share.size_value", width=s["width"], height=s["height"])))
    if s.get("num_frames") and s.get("fps"):
        seconds = f"{s['num_frames'] / s['fps']:.1f}"
        rows.append((t("share.length"), t("share.length_value", seconds=seconds, frames=s["num_frames"],
                                          fps=s["fps"])))
    if s.get("steps") is not None:
        rows.append((t("share.steps"), s["steps"]))
    if s.get("guidance_scale") is not None:
        rows.append((t("share.guidance"), s["guidance_scale"]))
    return [(label, str(value)) for label, value in rows if value not in (None, "")]


def _table(rows) -> str:
    return "".join(f"<tr><th>{html.escape(label)}</th><td>{html.escape(value)}</td></tr>" for label, value in rows)


def page(record: store.Record, base: str, accept_language: str) -> str:
    t = translator(accept_language)
    s = record.settings
    task = t(f"tab.{record.task}") if f"tab.{record.task}" in translations("en") else record.task
    text = str(s.get("prompt") or s.get("text") or "")
    label = t("share.text") if record.task == "lip_sync" else t("share.prompt")
    url, video = f"{base}/r/{record.id}", f"{base}/r/{record.id}/video.mp4"
    details = [(k, json.dumps(v, ensure_ascii=False)) for k, v in sorted(s.items()) if k not in SHOWN_APART]
    e = html.escape
    og_video = [("og:video", video), ("og:video:type", "video/mp4")]
    if video.startswith("https://"):
        og_video.append(("og:video:secure_url", video))
    if s.get("width") and s.get("height"):
        og_video += [("og:video:width", s["width"]), ("og:video:height", s["height"])]
    meta = [("og:type", "video.other"), ("og:site_name", "Video Studio"), ("og:title", f"{task} · Video Studio"),
            ("og:description", text or t("share.ai_note")), ("og:url", url), *og_video]
    tags = "\n".join(f'<meta property="{e(k)}" content="{e(str(v))}">' for k, v in meta)
    return f"""<!doctype html>
<html lang="{e(locale_for(accept_language))}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>{e(task)} · Video Studio</title>
{tags}
<style>{STYLE}</style></head>
<body><main>
<header><a class="brand" href="/">🎬 Video Studio</a></header>
<section class="card">
<h1>{e(task)}</h1>
<video src="/r/{record.id}/video.mp4" controls autoplay loop muted playsinline></video>
<p class="prompt"><strong>{e(label)}:</strong> {e(text) if text else f"<em>{e(t('share.no_prompt'))}</em>"}</p>
<p class="ai">{e(t("share.ai_note"))}</p>
<p class="actions"><a class="button primary" id="remix" href="/?remix={record.id}">{e(t("share.remix"))}</a>
<a class="button secondary" id="download" href="/r/{record.id}/video.mp4?download=1"
   download="video-studio-{record.id}.mp4">{e(t("share.download"))}</a></p>
<h2>{e(t("share.settings"))}</h2>
<table class="settings">{_table(plain_settings(record, t))}</table>
<details><summary>{e(t("share.details"))}</summary><table class="details">{_table(details)}</table></details>
</section></main></body></html>"""


def not_found(accept_language: str) -> str:
    t = translator(accept_language)
    return (f'<!doctype html><html lang="{html.escape(locale_for(accept_language))}"><head><meta charset="utf-8">'
            f"<title>{html.escape(t('share.not_found_title'))}</title><style>{STYLE}</style></head><body><main>"
            f'<header><a class="brand" href="/">🎬 Video Studio</a></header><section class="card">'
            f"<p>{html.escape(t('share.not_found'))}</p></section></main></body></html>")


def expired(accept_language: str) -> str:
    """What a share link shows once retention removed its result (HTTP 410)."""
    t = translator(accept_language)
    return (f'<!doctype html><html lang="{html.escape(locale_for(accept_language))}"><head><meta charset="utf-8">'
            f"<title>{html.escape(t('share.expired_title'))} · Video Studio</title><style>{STYLE}</style></head>"
            f'<body><main><header><a class="brand" href="/">🎬 Video Studio</a></header><section class="card">'
            f"<h1>{html.escape(t('share.expired_title'))}</h1><p>{html.escape(t('share.expired'))}</p>"
            f'<p><a class="button primary" href="/">{html.escape(t("share.open_studio"))}</a></p>'
            f"</section></main></body></html>")


# The app's look (Gradio's Soft theme: indigo accents, rounded light cards, system fonts).
STYLE = """
:root{--accent:#6366f1;--accent-dark:#4f46e5;--text:#1f2937;--muted:#6b7280;--line:#e5e7eb;--bg:#f3f4f6}
*{box-sizing:border-box}body{margin:0;background:var(--bg);color:var(--text);
font-family:ui-sans-serif,system-ui,-apple-system,"Segoe UI","Noto Sans","Noto Sans CJK SC",sans-serif}
main{max-width:880px;margin:0 auto;padding:1.2em 1em 3em}
header{margin-bottom:1em}.brand{font-weight:700;font-size:1.2em;color:var(--text);text-decoration:none}
.card{background:#fff;border:1px solid var(--line);border-radius:16px;padding:1.4em;box-shadow:0 1px 3px #0000000d}
h1{font-size:1.5em;margin:0 0 .6em}h2{font-size:1.05em;margin:1.4em 0 .4em;color:var(--muted)}
video{display:block;width:100%;max-height:70vh;border-radius:12px;background:#000}
.prompt{font-size:1.05em;line-height:1.5}.ai{color:#92400e;font-size:.9em}
.actions{display:flex;gap:.7em;flex-wrap:wrap;margin:1.2em 0}
.button{display:inline-block;padding:.65em 1.3em;border-radius:10px;font-weight:600;text-decoration:none}
.primary{background:var(--accent);color:#fff}.primary:hover{background:var(--accent-dark)}
.secondary{background:#eef2ff;color:var(--accent-dark);border:1px solid #c7d2fe}
table{border-collapse:collapse;width:100%}th,td{text-align:left;vertical-align:top;padding:.35em .6em;
border-bottom:1px solid var(--line);font-size:.92em}th{color:var(--muted);font-weight:500;width:30%}
details{margin-top:1em}summary{cursor:pointer;color:var(--muted)}
.details td{font-family:ui-monospace,monospace;font-size:.82em;word-break:break-all}
"""
