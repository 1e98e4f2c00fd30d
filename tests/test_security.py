"""What the server gives to whom: only a result's video and previews, by id; ownership from a secret the server
issues (or a login), checked through the same HTTP calls a browser makes; no server path in any message."""

from __future__ import annotations

import os
import re
import sqlite3
from pathlib import Path
from urllib.parse import quote

import httpx
import numpy as np
import pytest
from gradio_client import handle_file
from starlette.routing import Mount

from pipelines import owners, store
from tests import factory
from tests.browser_calls import Visitor, raw_get
from tests.video_checks import probe

SHARE_PROMPT = '<script>alert("x")</script> a fox & a "hen"'


@pytest.fixture(scope="module")
def alice(server_url):
    visitor = Visitor(server_url)
    yield visitor
    visitor.close()


@pytest.fixture(scope="module")
def mallory(server_url):
    visitor = Visitor(server_url)
    yield visitor
    visitor.close()


def _generate(visitor, demo, prompt: str, seed: int, **more) -> tuple[str, dict]:
    """Generate from the text-to-video tab as its page does; returns the result id and the video's file data."""
    done = visitor.generate(demo, "text_to_video", prompt=prompt, num_frames=5, steps=2, seed=seed,
                            randomize_seed=False, **more)
    assert done["success"], done
    video, info = done["output"]["data"][:2]
    return re.search(r"/r/([A-Za-z0-9_-]{22})", info).group(1), video


@pytest.fixture(scope="module")
def alices_result(alice, demo):
    return _generate(alice, demo, SHARE_PROMPT, 11, negative_prompt=SHARE_PROMPT)


@pytest.fixture(scope="module")
def secrets_on_disk(tmp_path_factory, client):
    """Files nobody may read over HTTP: the index (with its WAL, kept open), an uploaded input kept with a result,
    another visitor's preview, the cookie key, a file outside the outputs folder, and symlinks planted in it."""
    # An input file kept with a result (the upload goes through the API like any visitor's).
    image = factory.face(tmp_path_factory.mktemp("upload") / "portrait.png")
    _, info, _ = client.predict(image=handle_file(str(image)), prompt="a face", num_frames=5,
                                api_name="/image_to_video")
    with_input = store.get(re.search(r"/r/([A-Za-z0-9_-]{22})", info).group(1))
    kept_input = with_input.folder / with_input.metadata["inputs"]["image"]
    # Another visitor's result with a preview.
    token = store.OWNER.set(owners.browser_owner(owners.new_token()))
    try:
        theirs = store.save(store.Result(task="stylize_video", frames=np.zeros((3, 32, 32, 3), np.uint8), fps=8,
                                         settings={"seed": 1}, previews={"control": np.zeros((3, 32, 32, 3),
                                                                                             np.uint8)}))
    finally:
        store.OWNER.reset(token)
    root = store.outputs_root()
    outside = tmp_path_factory.mktemp("outside") / "private.txt"
    outside.write_text("PRIVATE-OUTSIDE-MARKER")
    # Symlinks planted in the outputs folder: in a result's folder (named like a preview) and at the top.
    (with_input.folder / "planted.mp4").symlink_to(outside)
    (with_input.folder / "index.mp4").symlink_to(root / "index.sqlite3")
    (root / "planted.txt").symlink_to(outside)
    owners.secret_key()
    # Keep a connection with a committed write open, so the WAL and shared-memory files exist while probing.
    connection = sqlite3.connect(root / "index.sqlite3")
    connection.execute("CREATE TABLE IF NOT EXISTS probe (x)")
    connection.execute("INSERT INTO probe VALUES ('WAL-MARKER')")
    connection.commit()
    files = {"index": root / "index.sqlite3", "wal": root / "index.sqlite3-wal", "shm": root / "index.sqlite3-shm",
             "input": kept_input, "preview": theirs.previews["control"], "key": root / owners.KEY_FILE,
             "outside": outside, "planted": root / "planted.txt",
             "planted_in_result": with_input.folder / "planted.mp4",
             "passwd": Path("/etc/passwd")}
    assert all(path.exists() for path in files.values()), {k: p for k, p in files.items() if not p.exists()}
    yield {"files": files, "with_input": with_input, "theirs": theirs}
    connection.close()
    for planted in (files["planted"], files["planted_in_result"], with_input.folder / "index.mp4"):
        planted.unlink()


def file_routes(app) -> list[str]:
    """Every GET route of the served app (Gradio's and ours) that takes a path, as a format string."""
    found = []

    def walk(routes, prefix=""):
        for route in routes:
            if isinstance(route, Mount):
                walk(route.routes, prefix + route.path)
            elif hasattr(route, "original_router"):  # a router FastAPI included under a prefix
                walk(route.original_router.routes, prefix + (getattr(route.include_context, "prefix", "") or ""))
            elif "GET" in (getattr(route, "methods", None) or ()) and ":path}" in route.path:
                found.append(prefix + route.path)

    walk(app.routes)
    return found


def probes(path: Path, root: Path, cache: Path) -> list[str]:
    """Ways to name one file in a URL path parameter: plainly, with encoded slashes, with `..` (plain and
    encoded) climbing out of Gradio's cache folder, and relative to the working folder."""
    climb = "../" * len(cache.parts) + str(path).lstrip("/")
    return [str(path), quote(str(path), safe=""), f"{cache}/{climb}", f"{cache}/{climb}".replace("..", "%2e%2e"),
            quote(f"{cache}/{climb}", safe=""), os.path.relpath(path, Path.cwd()),
            f"{root}/%2e%2e/{path.parent.name}/{path.name}"]


def test_no_route_serves_anything_of_the_outputs_folder_or_outside_it(served_app, server_url, secrets_on_disk,
                                                                      alices_result):
    routes = file_routes(served_app)
    assert "/gradio_api/file={path_or_url:path}" in routes and "/gradio_api/file/{path:path}" in routes, routes
    markers = {path: path.read_bytes()[:64] for path in secrets_on_disk["files"].values()}
    root, cache = store.outputs_root(), Path(os.environ["GRADIO_TEMP_DIR"])
    result_id = secrets_on_disk["with_input"].id
    served = []
    for target, marker in markers.items():
        for name in probes(target, root, cache):
            urls = [re.sub(r"\{[^}]+:path\}", name, route) for route in routes]
            urls += [f"/r/{result_id}/{name}", f"/r/{quote(name, safe='')}", f"/r/{result_id}/{quote(name, safe='')}"]
            for url in urls:
                status, _, body = raw_get(server_url, url if url.startswith("/") else "/" + url)
                if status < 400 or marker in body:
                    served.append((url, status))
    # Our own route, for symlinks planted inside a result's folder (named like previews) and for the inputs.
    for name in ("planted", "index", "inputs", "..%2Findex", "%2e%2e"):
        status, _, body = raw_get(server_url, f"/r/{result_id}/{name}.mp4")
        if status < 400:
            served.append((name, status))
    assert served == [], f"served what must stay private: {served[:20]}"


def test_the_owner_still_gets_the_video_over_the_api_and_the_share_page(server_url, alice, alices_result, client):
    result_id, video = alices_result
    # What the page gets: a copy in Gradio's cache, named without the outputs folder, that plays.
    assert str(store.outputs_root()) not in video["url"] and str(store.outputs_root()) not in video["path"]
    played = alice.http.get(video["url"])
    assert played.status_code == 200 and played.content[4:8] == b"ftyp"
    # What gradio_client gets: the MP4 itself.
    path, _, _ = client.predict(prompt="a cat", num_frames=5, seed=2, api_name="/text_to_video")
    assert len(probe(path).frames) == 5
    # The share page and its video, with the headers that keep them from being framed or sniffed.
    page = httpx.get(f"{server_url}r/{result_id}")
    assert page.status_code == 200
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff" and page.headers["x-frame-options"] == "DENY"
    mp4 = httpx.get(f"{server_url}r/{result_id}/video.mp4")
    assert mp4.status_code == 200 and mp4.headers["content-type"] == "video/mp4"
    assert mp4.headers["x-content-type-options"] == "nosniff" and "sandbox" in mp4.headers["content-security-policy"]
    assert b"ftyp" in mp4.content[:16] and result_id.encode() in mp4.content  # this result's MP4, settings inside
    download = httpx.get(f"{server_url}r/{result_id}/video.mp4?download=1")
    assert download.headers["content-disposition"].startswith("attachment")


def test_the_share_page_escapes_every_setting(server_url, alices_result):
    result_id, _ = alices_result
    page = httpx.get(f"{server_url}r/{result_id}").text
    assert "<script>" not in page and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "a fox &amp; a &quot;hen&quot;" in page  # in the prompt and the Open Graph description alike
    folded = page.split("<details>")[1]  # the negative prompt sits in the settings table, as JSON
    assert "&lt;script&gt;alert(\\&quot;x\\&quot;)&lt;/script&gt;" in folded


def test_the_share_page_speaks_the_visitors_language_with_absolute_open_graph_urls(server_url, alices_result):
    result_id, _ = alices_result
    english = httpx.get(f"{server_url}r/{result_id}", headers={"accept-language": "en-US,en;q=0.9"}).text
    chinese = httpx.get(f"{server_url}r/{result_id}", headers={"accept-language": "zh"}).text
    assert "Remix in the studio" in english and "在工作室中改编" in chinese and 'lang="zh-CN"' in chinese
    assert f'<meta property="og:video" content="{server_url}r/{result_id}/video.mp4">' in english
    assert f'<meta property="og:url" content="{server_url}r/{result_id}">' in english
    proxied = httpx.get(f"{server_url}r/{result_id}", headers={"x-forwarded-proto": "https",
                                                                "x-forwarded-host": "me-studio.hf.space"}).text
    assert f'content="https://me-studio.hf.space/r/{result_id}/video.mp4"' in proxied
    assert 'property="og:video:secure_url"' in proxied
    # Plain words for what people care about; internals only behind the fold.
    visible, folded = english.split("<details>")
    assert "Seed" in visible and "frames at" in visible and "repo_id" not in visible and "repo_id" in folded
    assert f'id="remix" href="/?remix={result_id}"' in english and 'id="download"' in english


def test_result_ids_come_from_a_cryptographic_source(monkeypatch):
    import secrets as real_secrets

    made = []
    monkeypatch.setattr(real_secrets, "token_urlsafe", lambda n: made.append(n) or "Z" * 22)
    result_id, folder = store.new_result_dir()
    assert result_id == "Z" * 22 and made == [16]  # 128 bits from the secrets module
    folder.rmdir()


def test_a_forged_session_can_neither_list_nor_delete_anothers_results(demo, alice, mallory, server_url):
    result_id, _ = _generate(alice, demo, "alice's private lighthouse", 21)
    listing = alice.call(demo, "listing", [], module="tabs.library")
    assert any("alice's private lighthouse" in (item.get("caption") or "")
               for item in listing["output"]["data"][0]), listing
    # Mallory uses Alice's page session (the hash a browser picks) with her own cookie: sees nothing of Alice's.
    mallory.session_hash = alice.session_hash
    theirs = mallory.call(demo, "listing", [], module="tabs.library")
    assert not any("alice" in (item.get("caption") or "") for item in theirs["output"]["data"][0])
    # Re-list as Alice, then Mallory selects Alice's first video in the same session and presses Delete.
    alice.call(demo, "listing", [], module="tabs.library")
    picked = mallory.call(demo, "select", [None], event_data={"index": 0, "value": None}, module="tabs.library")
    assert picked["success"]
    refused = mallory.call(demo, "delete", [None], module="tabs.library")
    assert refused["success"] is False and "Only the browser" in refused["output"]["error"]
    assert store.get(result_id) is not None
    # A forged cookie (the owner id the index keeps, or an unsigned token) is worth nothing either.
    for forged in (store.get(result_id).owner, owners.new_token(), f"{owners.new_token()}.{'0' * 64}"):
        mallory.http.cookies.clear()
        mallory.http.cookies.set(owners.COOKIE, forged)
        again = mallory.call(demo, "delete", [None], module="tabs.library")
        assert again["success"] is False and store.get(result_id) is not None
    # The owner can.
    alice.call(demo, "select", [None], event_data={"index": 0, "value": None}, module="tabs.library")
    deleted = alice.call(demo, "delete", [None], module="tabs.library")
    assert deleted["success"], deleted
    assert store.get(result_id) is None and httpx.get(f"{server_url}r/{result_id}").status_code == 404


def test_the_ownership_cookie_is_signed_http_only_and_the_index_keeps_no_secret(server_url, alice, alices_result):
    fresh = httpx.get(server_url)
    cookie = fresh.headers["set-cookie"]
    assert cookie.startswith(f"{owners.COOKIE}=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    token = owners.verify(alice.http.cookies[owners.COOKIE])
    record = store.get(alices_result[0])
    assert token and record.owner == owners.browser_owner(token) and token not in record.owner
    assert (store.outputs_root() / owners.KEY_FILE).stat().st_mode & 0o777 == 0o600
    # A visitor who already has a valid cookie keeps it.
    assert "set-cookie" not in alice.http.get("/").headers
    # Behind the Spaces proxy (HTTPS, inside huggingface.co's frame) only a secure, partitioned cookie is sent.
    proxied = httpx.get(server_url, headers={"x-forwarded-proto": "https"}).headers["set-cookie"]
    assert "Secure" in proxied and "SameSite=None" in proxied and "Partitioned" in proxied


def test_history_survives_a_new_page_and_a_login_sees_its_history_from_any_browser(demo, server_url):
    from tabs import _widgets as w

    first = Visitor(server_url)
    _generate(first, demo, "made before the reload", 31)
    first.session_hash = "a-new-page-session"  # a reload: a new Gradio session, the same cookie
    listed = first.call(demo, "listing", [], module="tabs.library")["output"]["data"][0]
    assert any(item["caption"] == "made before the reload" for item in listed)
    first.close()

    class Page:  # what gradio hands a handler: the HTTP request (its scope) and the login, if any
        def __init__(self, token, session=None):
            self.request = type("HTTP", (), {"scope": {owners.SCOPE_KEY: token, "session": session or {}},
                                             "cookies": {}})()
            self.username = None

    signed_in = {"oauth_info": {"userinfo": {"preferred_username": "ada"}, "expires_at": 2**40}}
    laptop, phone = Page(owners.new_token(), signed_in), Page(owners.new_token(), signed_in)
    assert w.owner_ids(laptop)[0] == w.owner_ids(phone)[0] == owners.user_owner("ada")
    assert w.owner_ids(laptop)[1] != w.owner_ids(phone)[1]  # each browser still has its own
    expired = Page(owners.new_token(), {"oauth_info": {"userinfo": {"preferred_username": "ada"}, "expires_at": 1}})
    assert owners.user_owner("ada") not in w.owner_ids(expired)


def test_the_remix_link_opens_the_right_result(demo, alice):
    first, _ = _generate(alice, demo, "the first of two", 41)
    second, _ = _generate(alice, demo, "the second of two", 42)
    for result_id, prompt, seed in ((first, "the first of two", 41), (second, "the second of two", 42)):
        done = alice.call(demo, "remix", [], query=f"?remix={result_id}", module="tabs.library")
        selected, *values = done["output"]["data"]
        assert selected["selected"] == "text_to_video"
        assert prompt in values and seed in values
        assert all(other not in values for other in ("the first of two", "the second of two") if other != prompt)


def test_error_messages_name_files_by_their_own_name_only():
    from tabs import _widgets as w

    cache = os.environ["GRADIO_TEMP_DIR"]
    message = f"cannot identify image file '{cache}/0a1b2c/holiday photo.png' (see {store.outputs_root()}/x/y.mp4)"
    cleaned = w.without_paths(message)
    assert cleaned == "cannot identify image file 'holiday photo.png' (see y.mp4)"
    kept = "16:9 at 1/2 speed, Wan-AI/Wan2.1-T2V-1.3B-Diffusers, https://huggingface.co/docs"
    assert w.without_paths(kept) == kept
