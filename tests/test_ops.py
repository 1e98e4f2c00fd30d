"""A studio an operator can leave running: crash-consistent saves, retention, a full disk, fair use."""

from __future__ import annotations

import errno
import logging
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest
from gradio_client.exceptions import AppError

from pipelines import fair_use, media, owners, retention, store
from tests.conftest import ROOT
from tests.video_checks import probe

FRAMES = np.random.default_rng(0).integers(0, 255, (5, 32, 32, 3), dtype=np.uint8)


@pytest.fixture
def outputs(tmp_path, monkeypatch):
    """A results folder of its own (the served app reads the same variable, so its routes see it too)."""
    from pipelines import owners

    root = tmp_path / "outputs"
    monkeypatch.setenv("STUDIO_OUTPUTS", str(root))
    for name in ("STUDIO_KEEP_DAYS", "STUDIO_MAX_OUTPUTS_GB", "SPACE_ID"):
        monkeypatch.delenv(name, raising=False)
    yield root
    owners.secret_key.cache_clear()  # a key made meanwhile was kept in this folder: the next test reads its own


def _result(prompt: str = "a lighthouse") -> store.Result:
    return store.Result(task="text_to_video", frames=FRAMES, fps=8, settings={"prompt": prompt, "seed": 1},
                        previews={"control": FRAMES[:, ::-1]})


def _indexed() -> set[str]:
    from contextlib import closing

    with closing(store._db()) as db:
        return {row[0] for row in db.execute("SELECT id FROM results")}


def _assert_consistent(root: Path) -> None:
    """Every indexed result plays in full; no folder without a row, no unfinished save left."""
    indexed = _indexed()
    folders = {p.name for p in root.iterdir() if p.is_dir() and store.ID_PATTERN.match(p.name)}
    assert folders == indexed
    assert not any((root / store.INCOMING).iterdir()) if (root / store.INCOMING).exists() else True
    for result_id in indexed:
        record = store.get(result_id)
        assert record is not None and len(probe(record.video).frames) == len(FRAMES)
        assert len(probe(record.folder / "control.mp4").frames) == len(FRAMES)


# ------------------------------------------------------------------------------------- crash-consistent save

# Each step of a save, and how a child process is SIGKILLed right there (nothing of Python's cleanup runs).
KILL_AT = {
    "while writing": "real = media.write_mp4\n"
                     "def write_mp4(path, *a, **k):\n"
                     "    real(path, *a, **k); data = Path(path).read_bytes()\n"
                     "    Path(path).write_bytes(data[: len(data) // 2]); die()\n"
                     "media.write_mp4 = write_mp4",
    "written, not signed": "store._sign = die",
    "signed, not moved into place": "store._move_into_place = die",
    "moved, not indexed": "store._index = die",
    "indexed": "store._push_to_hub = die",
}
LEFT_BEHIND = {"while writing": "unfinished", "written, not signed": "unfinished",
               "signed, not moved into place": "unfinished", "moved, not indexed": "unindexed"}


@pytest.mark.parametrize("step", list(KILL_AT))
def test_a_save_killed_at_any_step_leaves_a_consistent_store_after_restart(outputs, step, caplog):
    kept = store.save(_result("made before the crash"))
    script = "\n".join([
        "import os, signal", "from pathlib import Path", "import numpy as np", "from pipelines import media, store",
        "def die(*args, **kwargs):", "    os.kill(os.getpid(), signal.SIGKILL)", KILL_AT[step],
        "frames = np.full((5, 32, 32, 3), 90, np.uint8)",
        "store.save(store.Result(task='text_to_video', frames=frames, fps=8, settings={'prompt': 'killed'},",
        "                        previews={'control': frames}))"])
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=dict(os.environ), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == -9, done.stderr[-2000:]  # killed at that step, not failed on the way

    with caplog.at_level(logging.INFO, logger="studio"):
        counts = retention.recover()  # what the next start-up runs
    expected = {"unfinished": 0, "unindexed": 0, "incomplete": 0}
    if step in LEFT_BEHIND:
        expected[LEFT_BEHIND[step]] = 1
    assert counts == expected
    assert re.search(r"removed \d+ unfinished save\(s\), \d+ folder\(s\) without an index entry", caplog.text)
    _assert_consistent(outputs)
    assert kept.id in _indexed()
    assert len(_indexed()) == (2 if step == "indexed" else 1)


def test_recovery_drops_rows_whose_folder_is_incomplete_and_spares_live_saves(outputs):
    broken, whole = store.save(_result("broken")), store.save(_result("whole"))
    (broken.video).write_bytes(broken.video.read_bytes()[:100])  # cut short behind the index's back
    live = outputs / store.INCOMING / f"{os.getppid()}-{'x' * 22}"  # a save under way in a live process
    live.mkdir()
    counts = retention.recover()
    assert counts["incomplete"] == 1 and _indexed() == {whole.id}
    assert live.is_dir()  # not ours to remove
    live.rmdir()
    _assert_consistent(outputs)


# ------------------------------------------------------------------------------------------------ retention


def test_retention_removes_the_oldest_past_the_size_limit_and_their_links_answer_410(outputs, monkeypatch,
                                                                                    server_url):
    first = store.save(_result("first"))
    size = sum(first.metadata["files"].values())
    monkeypatch.setenv("STUDIO_MAX_OUTPUTS_GB", str(2.5 * size / 1024**3))  # room for two results
    made = [first] + [store.save(_result(f"result {i}")) for i in range(3)]
    assert _indexed() == {made[2].id, made[3].id}  # the two newest stay
    _assert_consistent(outputs)
    for gone in made[:2]:
        assert store.get(gone.id) is None and retention.is_expired(gone.id)
        assert not store.result_folder(gone.id).exists()
        page = httpx.get(f"{server_url}r/{gone.id}")
        assert page.status_code == 410 and "Video expired" in page.text and "removed" in page.text
        assert httpx.get(f"{server_url}r/{gone.id}/video.mp4").status_code == 410
        assert httpx.get(f"{server_url}r/{gone.id}/control.mp4").status_code == 410  # its previews too
        chinese = httpx.get(f"{server_url}r/{gone.id}", headers={"accept-language": "zh-CN,zh;q=0.9"})
        assert chinese.status_code == 410 and "视频已过期" in chinese.text
    for kept in made[2:]:
        assert httpx.get(f"{server_url}r/{kept.id}").status_code == 200
    assert httpx.get(f"{server_url}r/{'A' * 22}").status_code == 404  # never made: not found, not expired


def test_a_results_previews_are_served_by_id_as_video_and_picture(outputs, server_url):
    saved = store.save(store.Result(task="image_to_video", frames=FRAMES, fps=8, settings={"prompt": "a door"},
                                    previews={"control": FRAMES[:, ::-1], "first_frame": FRAMES[0]}))
    video = httpx.get(f"{server_url}r/{saved.id}/control.mp4")
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    picture = httpx.get(f"{server_url}r/{saved.id}/first_frame.png")
    assert picture.status_code == 200 and picture.headers["content-type"] == "image/png"
    assert picture.content == (outputs / saved.id / "first_frame.png").read_bytes()


def test_my_videos_lists_what_one_owner_made_newest_first(outputs):
    made = {}
    for owner, prompt in (("browser-a", "first"), ("browser-b", "other"), ("browser-a", "second")):
        token = store.OWNER.set(owner)
        try:
            made[prompt] = store.save(_result(prompt)).id
        finally:
            store.OWNER.reset(token)
    assert [r.id for r in store.history("browser-a")] == [made["second"], made["first"]]
    assert {r.id for r in store.history(["login-a", "browser-b", "browser-a"])} == set(made.values())
    assert store.history("") == [] and store.history([]) == []


def test_on_a_space_with_persistent_storage_results_are_kept_there(monkeypatch, tmp_path):
    monkeypatch.delenv("STUDIO_OUTPUTS")
    monkeypatch.setattr(store, "PERSISTENT_DISK", tmp_path)
    monkeypatch.setenv("SPACE_ID", "someone/video-studio")
    assert store.outputs_root() == tmp_path / "outputs"  # /data/outputs on the Space: it survives restarts
    monkeypatch.delenv("SPACE_ID")
    monkeypatch.chdir(tmp_path / "..")
    assert store.outputs_root() == (tmp_path / ".." / "outputs").resolve()  # locally: ./outputs


def test_retention_by_age_keeps_the_newest_result(outputs, monkeypatch):
    old, new = store.save(_result("old")), store.save(_result("new"))
    monkeypatch.setenv("STUDIO_KEEP_DAYS", "30")
    assert retention.enforce() == []  # nothing is 30 days old yet
    later = store.get(new.id).created + 31 * 86400
    assert retention.enforce(keep=new.id, now=later) == [old.id]
    assert _indexed() == {new.id} and retention.is_expired(old.id)


def test_retention_and_fair_use_defaults_are_off_locally_and_on_on_spaces(monkeypatch, tmp_path):
    for name in ("STUDIO_KEEP_DAYS", "STUDIO_MAX_OUTPUTS_GB", "STUDIO_FAIR_USE_PER_HOUR", "SPACE_ID",
                 "STUDIO_OUTPUTS"):
        monkeypatch.delenv(name, raising=False)
    assert not retention.policy().active and fair_use.per_hour() == 0
    assert store.outputs_root() == (Path.cwd() / "outputs").resolve()
    monkeypatch.setenv("SPACE_ID", "someone/video-studio")
    assert retention.policy() == retention.Policy(30, 15 * 1024**3) and fair_use.per_hour() == 20
    monkeypatch.setattr(store, "PERSISTENT_DISK", tmp_path)  # a Space with persistent storage at /data
    assert store.outputs_root() == tmp_path / "outputs"
    monkeypatch.setattr(store, "PERSISTENT_DISK", tmp_path / "absent")  # without it: the container's disk
    assert store.outputs_root() == (Path.cwd() / "outputs").resolve()
    monkeypatch.setenv("STUDIO_KEEP_DAYS", "0")
    monkeypatch.setenv("STUDIO_MAX_OUTPUTS_GB", "0")
    assert not retention.policy().active  # 0 = keep forever


# ------------------------------------------------------------------------------------------------ full disk


def test_a_full_disk_while_encoding_gives_a_clear_message_and_indexes_nothing(outputs, client, monkeypatch):
    real = media.write_mp4

    def onto_a_full_disk(path, *args, **kwargs):
        os.symlink("/dev/full", path)  # every write ffmpeg makes fails with ENOSPC, as on a full disk
        return real(path, *args, **kwargs)

    monkeypatch.setattr(media, "write_mp4", onto_a_full_disk)
    with pytest.raises(AppError, match="disk is full, so this video could not be saved"):
        client.predict(prompt="a full disk", num_frames=5, api_name="/text_to_video")
    assert _indexed() == set()
    kept = [p.name for p in outputs.iterdir() if not p.name.startswith("index.sqlite3") and p.name != owners.KEY_FILE]
    assert kept == [store.INCOMING]  # the index and the ownership key, nothing of the failed video
    assert list((outputs / store.INCOMING).iterdir()) == []  # no partial file, no scratch folder left
    monkeypatch.setattr(media, "write_mp4", real)
    video, info, _ = client.predict(prompt="room again", num_frames=5, api_name="/text_to_video")
    assert len(_indexed()) == 1 and len(probe(video).frames) == 5


@pytest.mark.parametrize("step, error, raised", [
    ("_index", sqlite3.OperationalError("database or disk is full"), store.DiskFull),  # SQLite says it in words
    ("_sign", RuntimeError("manifest write failed: No space left on device"), store.DiskFull),  # a C library too
    ("_sign", OSError(errno.ENOSPC, "full"), store.DiskFull),
    ("_sign", RuntimeError("signing failed"), RuntimeError),  # any other failure stays what it is
])
def test_a_disk_filling_up_after_encoding_is_reported_as_full_and_leaves_nothing(outputs, monkeypatch, step, error,
                                                                                  raised):
    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(store, step, fail)
    with pytest.raises(raised) as caught:
        store.save(_result())
    assert (type(caught.value) is store.DiskFull) == (raised is store.DiskFull)
    if raised is store.DiskFull:
        assert caught.value.errno == errno.ENOSPC
        assert caught.value.strerror == "The disk is full; the result was not saved."
    assert _indexed() == set()
    kept = [p.name for p in outputs.iterdir() if not p.name.startswith("index.sqlite3") and p.name != owners.KEY_FILE]
    assert kept == [store.INCOMING]  # the index and the ownership key, nothing of the failed video
    assert list((outputs / store.INCOMING).iterdir()) == []


# ------------------------------------------------------------------------------------------------- fair use


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_the_limiter_refuses_past_the_limit_and_admits_after_the_window():
    clock = Clock()
    limiter = fair_use.Limiter(2, clock=clock)
    assert limiter.admit("ip:a") == 0 and limiter.admit("ip:b") == 0
    clock.now += 600
    assert limiter.admit("ip:a") == 0
    assert limiter.admit("ip:a") == pytest.approx(3000)  # the first slot frees an hour after it was taken
    limiter.refund("ip:b")
    clock.now += 3000
    assert limiter.admit("ip:a") == 0
    clock.now += 7200
    limiter.admit("ip:c")
    assert len(limiter) == 1  # visitors whose window passed are forgotten: memory stays flat


def test_visitors_are_told_apart_by_login_then_by_the_space_proxy_address():
    who = fair_use.visitor
    assert who(login="alice", forwarded_for="1.2.3.4", peer="10.0.0.1", behind_space_proxy=True) == "user:alice"
    # a client-written X-Forwarded-For entry comes first; the Space's proxy appends the address it saw
    assert who(login=None, forwarded_for="6.6.6.6, 5.5.5.5", peer="10.0.0.1", behind_space_proxy=True) \
        == "ip:5.5.5.5"
    assert who(login=None, forwarded_for="6.6.6.6, 5.5.5.5, 10.16.3.80", peer="10.0.0.1", behind_space_proxy=True) \
        == "ip:5.5.5.5"  # past the platform's internal hop
    assert who(login=None, forwarded_for="6.6.6.6", peer="127.0.0.1", behind_space_proxy=False) == "ip:127.0.0.1"


def test_the_fair_use_limit_refuses_with_when_to_try_again_then_lets_in(client, monkeypatch):
    clock = Clock()
    monkeypatch.setattr(fair_use, "_current", fair_use.Limiter(1, clock=clock))
    with pytest.raises(AppError, match="prompt is empty"):  # bad input does not use up the hour
        client.predict(prompt="", num_frames=5, api_name="/text_to_video")
    client.predict(prompt="one", num_frames=5, api_name="/text_to_video")
    clock.now += 900
    with pytest.raises(AppError, match=r"1 videos in the last hour.*Try again in 45 min"):
        client.predict(prompt="two", num_frames=5, api_name="/text_to_video")
    clock.now += 2701
    video, _, _ = client.predict(prompt="three", num_frames=5, api_name="/text_to_video")
    assert len(probe(video).frames) == 5


def test_the_fair_use_message_is_in_the_visitors_language(monkeypatch):
    import gradio as gr

    from tabs import fair_use as gate

    monkeypatch.setattr(fair_use, "_current", fair_use.Limiter(0))
    gate.admit(None)  # off: admits everyone
    monkeypatch.setattr(fair_use, "_current", fair_use.Limiter(1, clock=Clock()))

    class Request:
        headers = {"accept-language": "zh-CN,zh;q=0.9,en;q=0.8"}
        client = type("Client", (), {"host": "9.9.9.9"})()
        username = None

    gate.admit(Request())
    with pytest.raises(gr.Error) as refused:
        gate.admit(Request())
    assert "请在 60 分钟后再试" in refused.value.message


def test_results_go_to_the_hub_repo_every_10_minutes_without_unfinished_saves_or_the_key(outputs, monkeypatch):
    import huggingface_hub

    schedulers = []
    monkeypatch.setattr(huggingface_hub, "CommitScheduler", lambda **kwargs: schedulers.append(kwargs) or kwargs)
    monkeypatch.setenv("STUDIO_RESULTS_REPO", "someone/studio-results")
    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    store._scheduler.cache_clear()
    try:
        store.save(_result())
        store.save(_result("a second one"))
    finally:
        store._scheduler.cache_clear()
    # one scheduler for the process, started by the first save
    assert schedulers == [{"repo_id": "someone/studio-results", "repo_type": "dataset",
                           "folder_path": outputs.resolve(), "every": 10, "private": True,
                           "ignore_patterns": [".incoming/**", ".secret_key"], "token": "hf_secret"}]


def test_without_a_results_repo_nothing_is_pushed(outputs, monkeypatch):
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "CommitScheduler", lambda **kwargs: pytest.fail("pushed without a repo"))
    monkeypatch.delenv("STUDIO_RESULTS_REPO", raising=False)
    store._scheduler.cache_clear()
    store.save(_result())
