"""The HTTP server: share pages for results (`/r/<id>`) next to the Gradio app mounted at `/`.

What is public is exactly this: a result's page, its video and its previews, by unguessable id. Nothing else of
the outputs folder (the index, the input files people uploaded) is reachable: Gradio is not allowed to serve it
and these routes only open regular files directly inside a known result's folder.

Every request also passes through `OwnerCookie`, which gives each browser its server-signed ownership secret.
"""

from __future__ import annotations

import os
import re
from http.cookies import SimpleCookie
from pathlib import Path

import gradio as gr
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.datastructures import MutableHeaders

from pipelines import owners, presets, retention, store
from share_page import expired, not_found, page
from tabs import i18n

PREVIEW_NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
PREVIEW_TYPES = {"mp4": "video/mp4", "png": "image/png"}

# Share pages load nothing from elsewhere and run no script; nobody may frame them (there is no embed).
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; media-src 'self'; img-src 'self' data:; "
                               "style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
                               "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",  # the page's address is the capability to see it
}
# Videos play in <video> on any site (a pasted link unfurls), but are never run as a document or framed.
VIDEO_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; sandbox; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "private, max-age=3600",
}


class OwnerCookie:
    """Gives every browser a signed, HTTP-only ownership cookie and puts its verified token in the request scope
    (`owners.SCOPE_KEY`), where the handlers read who is asking. A cookie that fails the check is replaced."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] not in {"http", "websocket"}:
            return await self.app(scope, receive, send)
        token = owners.verify(_cookie(scope, owners.COOKIE))
        issued = None
        if token is None:
            token = issued = owners.new_token()
        scope[owners.SCOPE_KEY] = token
        if issued is None or scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_cookie(message):
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append("set-cookie", _set_cookie(issued, _is_https(scope)))
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def _cookie(scope, name: str) -> str | None:
    for key, value in scope.get("headers", []):
        if key == b"cookie":
            jar = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # a malformed header just means no cookie
                return None
            if name in jar:
                return jar[name].value
    return None


def _is_https(scope) -> bool:
    forwarded = dict(scope.get("headers", [])).get(b"x-forwarded-proto", b"").decode("latin-1")
    return scope.get("scheme") == "https" or forwarded.split(",")[0].strip() == "https"


def _set_cookie(token: str, https: bool) -> str:
    cookie = f"{owners.COOKIE}={owners.sign(token)}; Path=/; Max-Age={owners.COOKIE_MAX_AGE}; HttpOnly"
    # Over HTTPS (Spaces) the app runs inside huggingface.co's frame, where only a partitioned SameSite=None
    # cookie is sent; the cookie is still tied to this site within that frame.
    return cookie + ("; Secure; SameSite=None; Partitioned" if https else "; SameSite=Lax")


def base_url(request: Request) -> str:
    """This server's public address as the visitor sees it (behind the Spaces proxy too)."""
    proto = request.headers.get("x-forwarded-proto", request.url.scheme).split(",")[0].strip()
    host = request.headers.get("x-forwarded-host") or request.headers.get("host") or request.url.netloc
    return f"{proto}://{host.split(',')[0].strip()}"


def result_file(result_id: str, name: str) -> tuple[store.Record, Path] | None:
    """A regular file directly inside a known result's folder, never through a symlink."""
    record = store.get(result_id)
    if record is None:
        return None
    root = store.outputs_root()
    folder = root / record.id
    path = folder / name
    if folder.is_symlink() or path.is_symlink() or not path.is_file():
        return None
    if path.resolve().parent != folder.resolve() or folder.resolve().parent != root.resolve():
        return None
    return record, path


def _not_found(request: Request, result_id: str = "") -> HTMLResponse:
    """404, or 410 with its own page when retention removed the result."""
    accept_language = request.headers.get("accept-language", "")
    if result_id and retention.is_expired(result_id):
        return HTMLResponse(expired(accept_language), status_code=410, headers=PAGE_HEADERS)
    return HTMLResponse(not_found(accept_language), status_code=404, headers=PAGE_HEADERS)


def share_page(result_id: str, request: Request):
    record = store.get(result_id)
    if record is None or record.folder.is_symlink():
        return _not_found(request, result_id)
    html = page(record, base_url(request), request.headers.get("accept-language", ""))
    return HTMLResponse(html, headers=PAGE_HEADERS)


def share_video(result_id: str, request: Request):
    record = store.get(result_id)
    found = result_file(result_id, record.video.name) if record else None
    return _video(found, request, f"video-studio-{result_id}.mp4", result_id)


def share_preview(result_id: str, name: str, kind: str, request: Request):
    """A preview kept with a result: a video (e.g. the control video) or a picture (e.g. a fitted frame)."""
    known = PREVIEW_NAME.match(name) and kind in PREVIEW_TYPES
    found = result_file(result_id, f"{name}.{kind}") if known else None
    return _video(found, request, f"video-studio-{result_id}-{name}.{kind}", result_id)


def _video(found, request: Request, filename: str, result_id: str) -> Response:
    if found is None:
        return _not_found(request, result_id)
    disposition = "attachment" if request.query_params.get("download") else "inline"
    return FileResponse(found[1], media_type=PREVIEW_TYPES[found[1].suffix[1:]], headers=VIDEO_HEADERS,
                        filename=filename, content_disposition_type=disposition)


def create_app(demo: gr.Blocks, **launch_kwargs) -> FastAPI:
    # The routes are module functions rather than closures so that each is its own unit for the mutation tests.
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(OwnerCookie)
    app.get("/r/{result_id}", response_class=HTMLResponse)(share_page)
    app.get("/r/{result_id}/video.mp4")(share_video)
    app.get("/r/{result_id}/{name}.{kind}")(share_preview)
    app.add_middleware(i18n.ChineseBrowserAsChinese)
    return gr.mount_gradio_app(app, demo, path="", **launch_kwargs)


def ready_line(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    mode = "smoke mode ON: tiny untrained models, no downloads" if presets.tiny_mode() else "real models"
    return f"Video Studio is ready at http://{shown}:{port}/ ({mode})"


def serve(demo: gr.Blocks, **launch_kwargs) -> None:
    import uvicorn

    host = os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1")
    port = int(os.environ.get("GRADIO_SERVER_PORT", "7860"))

    class Server(uvicorn.Server):
        async def startup(self, sockets=None):
            await super().startup(sockets=sockets)
            if self.started:  # one line once the port accepts connections (uvicorn itself logs only warnings)
                print(ready_line(host, port), flush=True)

    config = uvicorn.Config(create_app(demo, **launch_kwargs), host=host, port=port, log_level="warning")
    Server(config).run()
