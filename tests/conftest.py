"""Every test runs in smoke mode: tiny random-weight models built once per session, no network."""

from __future__ import annotations

import contextlib

import os
import socket
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
_session_dir = Path(tempfile.mkdtemp(prefix="studio-tests-"))
# A tiny-model folder given from outside (the mutation-testing run) is reused rather than rebuilt per run.
os.environ.setdefault("STUDIO_TINY_DIR", str(_session_dir / "tiny"))
os.environ.update({
    "STUDIO_TINY": "1",
    "STUDIO_OUTPUTS": str(_session_dir / "outputs"),
    "HF_HUB_OFFLINE": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "GRADIO_TEMP_DIR": str(_session_dir / "gradio"),
    "STUDIO_C2PA_DIR": str(_session_dir / "c2pa"),
    "STUDIO_MAX_UPLOAD_MB": "8",  # the served app's upload limit, low so that the test going over it sends little
})

import pytest  # noqa: E402


def server_paths_in(message: str) -> list[str]:
    """The server paths a visitor-facing message gives away: temp, outputs, Gradio's cache, home, the app."""
    fragments = {"/tmp/", tempfile.gettempdir(), os.environ["STUDIO_OUTPUTS"], os.environ["GRADIO_TEMP_DIR"],
                 str(Path.home()), str(ROOT), "site-packages"}
    return sorted(fragment for fragment in fragments if fragment in message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def served_app():
    """The tiny-mode app as production serves it: share routes, ownership cookie and Gradio."""
    import app
    import server

    return server.create_app(app.demo, **app.launch_kwargs())


@contextlib.contextmanager
def serving(asgi_app, what: str = "the app"):
    """Serve an ASGI app from a thread on a free local port for the duration; yields its base URL."""
    import threading
    import time

    import uvicorn

    config = uvicorn.Config(asgi_app, host="127.0.0.1", port=free_port(), log_level="warning",
                            timeout_graceful_shutdown=1)
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not instance.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert instance.started, f"{what} did not start"
    try:
        yield f"http://127.0.0.1:{config.port}/"
    finally:
        instance.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def demo():
    """The app's Blocks, imported when a test asks (importing app at a test module's top breaks later downloads)."""
    import app

    return app.demo


@pytest.fixture(scope="session")
def server_url(served_app):
    """The served app on a local port for the whole session."""
    with serving(served_app) as url:
        yield url


@pytest.fixture(scope="session")
def client(server_url):
    from gradio_client import Client

    return Client(server_url, verbose=False)


# Mutation testing (`bench/mutation.py`) reruns, for each mutant, only the tests that reached the mutated function, as
# mutmut recorded them in a first run of the whole suite. It credits a function to the test that was running when it
# was called, so what a shared fixture (the served app, built once) calls would be credited to the first test that
# set it up only. These two hooks credit it to every test that uses the fixture; they do nothing in a normal run.
_fixture_calls: dict[str, set[str]] = {}


def _mutmut_calls():
    """The mutmut state whose `_stats` collects the functions called since the last test ended, in its stats run."""
    if os.environ.get("MUTANT_UNDER_TEST") != "stats":
        return None
    from mutmut.state import state

    return state()


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef, request):
    calls = _mutmut_calls() if fixturedef.scope != "function" else None
    if calls is None:
        yield
        return
    outer, calls._stats = calls._stats, set()
    try:
        yield
    finally:
        _fixture_calls[fixturedef.argname] = set(calls._stats)
        calls._stats = outer | calls._stats


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    calls = _mutmut_calls()
    if calls is not None:
        for name in item.fixturenames:
            calls._stats |= _fixture_calls.get(name, set())
    yield


from tests.spies import pipeline_spy, unet_spy  # noqa: E402,F401  (fixtures every tab's tests use)
