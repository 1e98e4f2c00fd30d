"""The HTTP server: share pages for results (`/r/<id>`) next to the Gradio app mounted at `/`.

A share page shows the video, its prompt and settings, and a "remix" link that opens the app with those
settings filled in. Ids are 128-bit random tokens checked against the index; nothing else on disk is served.
"""

from __future__ import annotations

import html
import json
import os

import gradio as gr
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse

from pipelines import retention, store
from tabs.i18n import locale_for, text

NOT_FOUND = "<!doctype html><title>Not found</title><p>No such video. It may have been deleted.</p>"
HIDDEN_SETTINGS = {"prompt", "negative_prompt", "task"}


def _page(record: store.Record) -> str:
    s = record.settings
    prompt = html.escape(str(s.get("prompt") or s.get("text") or ""))
    rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(json.dumps(v, ensure_ascii=False))}</td></tr>"
                   for k, v in sorted(s.items()) if k not in HIDDEN_SETTINGS)
    title = record.task.replace("_", " ").capitalize()
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{title} · Video Studio</title>
<meta property="og:title" content="{title} · Video Studio"><meta property="og:description" content="{prompt}">
<meta property="og:video" content="/r/{record.id}/video.mp4">
<style>body{{font-family:system-ui,sans-serif;max-width:860px;margin:2em auto;padding:0 1em;color:#222}}
video{{width:100%;border-radius:8px;background:#000}} th{{text-align:left;padding-right:1em;color:#555}}
td,th{{font-size:.9em;vertical-align:top}} .ai{{color:#92400e}} a.button{{display:inline-block;padding:.5em 1em;
background:#4f46e5;color:#fff;border-radius:6px;text-decoration:none}}</style></head>
<body><h1>{title}</h1>
<video src="/r/{record.id}/video.mp4" controls autoplay loop playsinline></video>
<p class="prompt"><strong>Prompt:</strong> {prompt or "<em>(none)</em>"}</p>
<p class="ai">AI-generated with open models in Video Studio.</p>
<p><a class="button" href="/?remix={record.id}">Remix in the studio</a>
   <a href="/r/{record.id}/video.mp4" download>Download MP4</a></p>
<table>{rows}</table></body></html>"""


def _expired_page(accept_language: str | None) -> str:
    """What a share link of a result removed by retention shows (HTTP 410), in the visitor's language."""
    locale = locale_for(accept_language)
    title, body, studio = (html.escape(text(key, accept_language))
                           for key in ("share.expired_title", "share.expired", "share.open_studio"))
    return (f'<!doctype html><html lang="{locale}"><head><meta charset="utf-8"><title>{title} · Video Studio'
            f'</title></head><body><h1>{title}</h1><p>{body}</p><p><a href="/">{studio}</a></p></body></html>')


def _gone_or_not_found(result_id: str, request: Request) -> HTMLResponse:
    if retention.is_expired(result_id):
        return HTMLResponse(_expired_page(request.headers.get("accept-language")), status_code=410)
    return HTMLResponse(NOT_FOUND, status_code=404)


def create_app(demo: gr.Blocks, **launch_kwargs) -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/r/{result_id}", response_class=HTMLResponse)
    def share_page(result_id: str, request: Request):
        record = store.get(result_id)
        if record is None:
            return _gone_or_not_found(result_id, request)
        return HTMLResponse(_page(record))

    @app.get("/r/{result_id}/video.mp4")
    def share_video(result_id: str, request: Request):
        record = store.get(result_id)
        if record is None or not record.video.is_file():
            return _gone_or_not_found(result_id, request)
        return FileResponse(record.video, media_type="video/mp4")

    return gr.mount_gradio_app(app, demo, path="", **launch_kwargs)


def serve(demo: gr.Blocks, **launch_kwargs) -> None:
    import uvicorn

    app = create_app(demo, **launch_kwargs)
    uvicorn.run(app, host=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")), log_level="warning")
