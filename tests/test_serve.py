"""How `python app.py` serves: the address it listens on, and the one line it prints once it accepts connections.

Each test serves a small page of its own: a second server around the shared app.demo would stop that demo's queue
when it shuts down (see conftest's served app)."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from tests.conftest import free_port


def _small_demo():
    import gradio as gr

    with gr.Blocks() as demo:
        gr.Markdown("a page")
    return demo


def test_by_default_the_app_listens_on_this_machine_only_at_port_7860(monkeypatch):
    import uvicorn

    import server

    monkeypatch.delenv("GRADIO_SERVER_NAME", raising=False)
    monkeypatch.delenv("GRADIO_SERVER_PORT", raising=False)
    asked = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self: asked.append(self.config))
    server.serve(_small_demo())
    assert [(c.host, c.port, c.log_level) for c in asked] == [("127.0.0.1", 7860, "warning")]


def test_the_app_serves_the_share_routes_and_says_once_where_when_it_is_ready(monkeypatch, capsys):
    import uvicorn

    import server

    port = free_port()
    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")
    monkeypatch.setenv("GRADIO_SERVER_PORT", str(port))
    running = []
    start = uvicorn.Server.__init__
    monkeypatch.setattr(uvicorn.Server, "__init__", lambda self, config: start(self, config) or running.append(self))
    thread = threading.Thread(target=server.serve, args=(_small_demo(),), daemon=True,
                              kwargs={"head": '<meta name="studio-check" content="served">'})
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not (running and running[0].started):
            assert thread.is_alive() and time.monotonic() < deadline, "the app did not start"
            time.sleep(0.05)
        missing = httpx.get(f"http://127.0.0.1:{port}/r/{'x' * 22}", timeout=10)
        assert missing.status_code == 404 and missing.headers["x-frame-options"] == "DENY"
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=10)
        assert page.status_code == 200 and "studio-check" in page.text  # the page, with what app.py asked for
        assert running[0].config.host == "0.0.0.0"  # GRADIO_SERVER_NAME, as on a Space
    finally:
        if running:
            running[0].should_exit = True
        thread.join(timeout=20)
    printed = capsys.readouterr().out.splitlines()
    assert printed == [f"Video Studio is ready at http://127.0.0.1:{port}/ (smoke mode ON: tiny untrained models, "
                       "no downloads)"]


@pytest.mark.parametrize("host, shown", [("0.0.0.0", "127.0.0.1"), ("::", "127.0.0.1"),
                                         ("studio.local", "studio.local")])
def test_the_ready_line_shows_an_address_a_browser_can_open(host, shown):
    import server

    assert server.ready_line(host, 8000).startswith(f"Video Studio is ready at http://{shown}:8000/ (")


def test_the_ready_line_says_when_real_models_are_served(monkeypatch):
    import server
    from pipelines import presets

    monkeypatch.setattr(presets, "tiny_mode", lambda: False)
    assert server.ready_line("127.0.0.1", 7860) == "Video Studio is ready at http://127.0.0.1:7860/ (real models)"


def test_a_first_visit_that_uploads_gets_its_file_taken_and_an_ownership_cookie(server_url):
    response = httpx.post(f"{server_url}gradio_api/upload", files={"files": ("a.txt", b"hello", "text/plain")},
                          timeout=30)
    assert response.status_code == 200 and len(response.json()) == 1  # the body reached the app
    assert "studio_owner=" in response.headers["set-cookie"]
