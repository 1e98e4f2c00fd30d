"""Call the app's events the way its page does, over HTTP: join the queue for one event (by its handler) with a
session hash, then read the event stream until it completes. Each `Visitor` is one browser with its own cookies,
so tests can act as two people, or as one person forging another's session."""

from __future__ import annotations

import http.client
import json
import secrets
from urllib.parse import urlsplit

import httpx


def fn_index(demo, handler_name: str, module: str | None = None) -> int:
    """The event index of the first event whose handler has this name (and lives in `module`, if given)."""
    for index, fn in demo.fns.items():
        handler = getattr(fn, "fn", None)
        if handler is not None and handler.__name__ == handler_name and (
                module is None or handler.__module__ == module):
            return index
    raise LookupError(f"no event runs {handler_name!r}")


class Visitor:
    """A browser: a cookie jar (the server's ownership cookie lands here on the first page load) and a page
    session hash, which it may also set to someone else's to forge their session."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.http = httpx.Client(base_url=base_url, timeout=120)
        self.session_hash = secrets.token_hex(6)
        self.http.get("/").raise_for_status()

    def call(self, demo, handler_name: str, data: list, event_data=None, query: str = "",
             module: str | None = None) -> dict:
        """The event's final message: {"success": bool, "output": {"data": [...]} or {"error": ...}}."""
        body = {"data": data, "fn_index": fn_index(demo, handler_name, module), "session_hash": self.session_hash,
                "event_data": event_data, "trigger_id": None}
        return self._run(body, handler_name, query)

    def _run(self, body: dict, what: str, query: str = "") -> dict:
        joined = self.http.post(f"gradio_api/queue/join{query}", json=body)
        joined.raise_for_status()
        with self.http.stream("GET", "gradio_api/queue/data", params={"session_hash": self.session_hash}) as events:
            for line in events.iter_lines():
                if not line.startswith("data:"):
                    continue
                message = json.loads(line[5:])
                if message.get("msg") == "process_completed":
                    return message
        raise AssertionError(f"{what}: the event stream ended without a result")

    def generate(self, demo, api_name: str, **values) -> dict:
        """Press a tab's Generate: every input at its value on a fresh page, except the `values` given."""
        from tabs import _widgets as w

        index, fn = next((i, fn) for i, fn in demo.fns.items() if fn.api_name == api_name)
        names = w.api_parameters(fn.fn)
        data = [values.get(name, component.value) for name, component in zip(names, fn.inputs)]
        body = {"data": data, "fn_index": index,
                "session_hash": self.session_hash, "event_data": None, "trigger_id": None}
        return self._run(body, api_name)

    def close(self) -> None:
        self.http.close()


def raw_get(base_url: str, raw_path: str) -> tuple[int, dict, bytes]:
    """GET exactly this path, byte for byte (no client normalises `..` or decodes %2F on the way)."""
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.putrequest("GET", raw_path, skip_accept_encoding=True)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()
