"""The request-facing side of fair use: who the visitor is, and the message when they must wait."""

from __future__ import annotations

import math
import os

import gradio as gr

from pipelines import fair_use
from tabs.i18n import text


def _login(request: gr.Request) -> str | None:
    if getattr(request, "username", None):
        return request.username
    try:  # "Sign in with Hugging Face" (hf_oauth) keeps the profile in the session
        info = request.session.get("oauth_info") or {}
    except Exception:  # no session middleware: nobody can be signed in
        return None
    return (info.get("userinfo") or {}).get("preferred_username")


def visitor(request: gr.Request | None) -> str:
    if request is None:
        return "ip:local"
    headers = getattr(request, "headers", None) or {}
    client = getattr(request, "client", None)
    return fair_use.visitor(login=_login(request), forwarded_for=headers.get("x-forwarded-for"),
                            peer=getattr(client, "host", None), behind_space_proxy=bool(os.environ.get("SPACE_ID")))


def admit(request: gr.Request | None) -> None:
    """Count this generation against the visitor, or refuse it saying when they can try again."""
    wait = fair_use.limiter().admit(visitor(request))
    if wait:
        language = (getattr(request, "headers", None) or {}).get("accept-language")
        raise gr.Error(text("errors.fair_use", language, limit=fair_use.limiter().limit,
                            minutes=max(1, math.ceil(wait / 60))),
                       title=text("errors.fair_use_title", language))


def refund(request: gr.Request | None) -> None:
    fair_use.limiter().refund(visitor(request))
