"""Who owns a result: a secret the server issues to each browser, or a Hugging Face login.

A browser gets a random token in a signed, HTTP-only cookie; only the server can make a valid one, and the
page's scripts never see it. A signed-in person (Hugging Face login on Spaces) is known by their username, so
their history follows them to any browser. The index never stores either: it keeps an HMAC of the owner key
under the server's secret key, which grants nothing to whoever reads it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from functools import cache
from pathlib import Path

COOKIE = "studio_owner"
SCOPE_KEY = "studio.owner_token"  # where the server puts the verified token of a request
COOKIE_MAX_AGE = 400 * 24 * 3600  # the longest lifetime browsers keep (Chrome caps cookies at 400 days)
KEY_FILE = ".secret_key"


def _outputs_root() -> Path:
    from pipelines import store  # store imports this module for owner ids

    return store.outputs_root()


@cache
def secret_key() -> bytes:
    """STUDIO_SECRET_KEY, or a random key made once and kept (owner-readable only) in the outputs folder, so
    cookies stay valid across restarts."""
    configured = os.environ.get("STUDIO_SECRET_KEY", "").strip()
    if configured:
        return configured.encode()
    path = _outputs_root() / KEY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        os.chmod(path, 0o600)
        return path.read_text().strip().encode()
    with os.fdopen(descriptor, "w") as file:
        file.write(secrets.token_urlsafe(48))
    return path.read_text().strip().encode()


def _mac(purpose: str, value: str) -> str:
    return hmac.new(secret_key(), f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def sign(token: str) -> str:
    """The cookie value for a token: the token and its signature."""
    return f"{token}.{_mac('cookie', token)}"


def verify(cookie: str | None) -> str | None:
    """The token inside a cookie the server signed; None for anything else."""
    if not cookie or cookie.count(".") != 1:
        return None
    token, signature = cookie.split(".")
    if len(token) < 32 or not hmac.compare_digest(signature, _mac("cookie", token)):
        return None
    return token


def browser_owner(token: str) -> str:
    """The owner id (as kept in the index) of a browser's token."""
    return _mac("owner", f"browser:{token}") if token else ""


def user_owner(username: str) -> str:
    """The owner id of a signed-in person, the same from any browser."""
    return _mac("owner", f"user:{username}") if username else ""
