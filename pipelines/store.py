"""Results that last: each result in its own folder (an unguessable id) plus an index in SQLite.

The index keeps the task, the full settings, timings, library versions, the input files used, and who made
it: an owner id, an HMAC of the maker's server-issued secret or login (see owners.py), never the secret itself.
Optionally, results are pushed to a Hub dataset repo (STUDIO_RESULTS_REPO).
"""

from __future__ import annotations

import contextvars
import errno
import json
import logging
import os
import re
import secrets
import shutil
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from pathlib import Path

import numpy as np

from pipelines import media, owners, presets

# The owner id a new result is filed under: set by the UI layer around each request.
OWNER: contextvars.ContextVar[str] = contextvars.ContextVar("result_owner", default="")
ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{22}$")


@dataclass
class Result:
    """What a task pipeline returns: frames plus everything needed to write and reproduce the video."""

    task: str
    frames: np.ndarray                       # (T, H, W, 3) uint8
    fps: float
    settings: dict
    audio: np.ndarray | None = None          # mono float32
    sample_rate: int = media.SPEECH_RATE
    timings: dict = field(default_factory=dict)
    previews: dict[str, np.ndarray] = field(default_factory=dict)  # e.g. the control video of a stylization
    inputs: dict[str, str] = field(default_factory=dict)           # parameter name -> input file used


@dataclass
class Saved:
    id: str
    video: Path
    previews: dict[str, Path]
    metadata: dict


@dataclass
class Record:
    id: str
    task: str
    created: float
    owner: str
    metadata: dict
    folder: Path

    @property
    def settings(self) -> dict:
        return self.metadata.get("settings", {})

    @property
    def video(self) -> Path:
        return self.folder / f"{self.task}.mp4"


PERSISTENT_DISK = Path("/data")  # where a Space's persistent storage is mounted (Spaces storage docs)
INCOMING = ".incoming"             # unfinished saves, on the same disk as the results so the final move is atomic


def outputs_root() -> Path:
    """STUDIO_OUTPUTS; else, on a Space with persistent storage, /data/outputs (it survives restarts); else
    ./outputs."""
    configured = os.environ.get("STUDIO_OUTPUTS")
    if configured:
        return Path(configured).resolve()
    if os.environ.get("SPACE_ID") and PERSISTENT_DISK.is_dir() and os.access(PERSISTENT_DISK, os.W_OK):
        return PERSISTENT_DISK / "outputs"
    return (Path.cwd() / "outputs").resolve()


def new_id() -> str:
    return secrets.token_urlsafe(16)  # 128 bits: share links can't be guessed or enumerated


def new_result_dir(result_id: str | None = None) -> tuple[str, Path]:
    """A fresh id (or the one given, chosen before a cluster worker encoded the video) and the scratch folder its
    files are written to before they are moved into place.

    The scratch name starts with this process's id, so start-up recovery can tell a save still under way in
    another live process from one whose process died."""
    result_id = result_id or new_id()
    if not ID_PATTERN.match(result_id):
        raise RuntimeError("malformed result id")
    folder = outputs_root() / INCOMING / f"{os.getpid()}-{result_id}"
    folder.mkdir(parents=True, exist_ok=False)
    return result_id, folder


def result_folder(result_id: str) -> Path:
    return outputs_root() / result_id


@cache
def library_versions() -> dict[str, str]:
    versions = {}
    for name in ("torch", "diffusers", "transformers", "gradio"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


# --------------------------------------------------------------------------------------------------- index


def _db() -> sqlite3.Connection:
    root = outputs_root()
    root.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(root / "index.sqlite3", timeout=30)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("CREATE TABLE IF NOT EXISTS results (id TEXT PRIMARY KEY, task TEXT NOT NULL, "
                       "created REAL NOT NULL, owner TEXT NOT NULL, metadata TEXT NOT NULL)")
    connection.execute("CREATE INDEX IF NOT EXISTS by_owner ON results (owner, created)")
    return connection


def _record(row) -> Record:
    result_id, task, created, owner, meta = row
    return Record(result_id, task, created, owner, json.loads(meta), outputs_root() / result_id)


def get(result_id: str) -> Record | None:
    """A result by id; None for unknown or malformed ids (never a path outside the outputs root)."""
    if not isinstance(result_id, str) or not ID_PATTERN.match(result_id):
        return None
    with closing(_db()) as db:
        row = db.execute("SELECT * FROM results WHERE id = ?", (result_id,)).fetchone()
    return _record(row) if row and (outputs_root() / row[0]).is_dir() else None


def _owner_ids(owner: str | list[str]) -> list[str]:
    return [o for o in ([owner] if isinstance(owner, str) else owner) if o]


def history(owner: str | list[str], limit: int = 48) -> list[Record]:
    """The results of one owner (or of any of several ids one person has: login and browser), newest first."""
    ids = _owner_ids(owner)
    if not ids:
        return []
    with closing(_db()) as db:
        rows = db.execute(f"SELECT * FROM results WHERE owner IN ({','.join('?' * len(ids))}) "
                          "ORDER BY created DESC LIMIT ?", (*ids, limit)).fetchall()
    return [_record(r) for r in rows if (outputs_root() / r[0]).is_dir()]


def delete(result_id: str, owner: str | list[str]) -> bool:
    """Delete a result; only its owner may."""
    record = get(result_id)
    if record is None or record.owner not in _owner_ids(owner):
        return False
    with closing(_db()) as db, db:
        db.execute("DELETE FROM results WHERE id = ?", (result_id,))
    shutil.rmtree(record.folder, ignore_errors=True)
    return True


# ---------------------------------------------------------------------------------------------------- save


def input_names(inputs: dict[str, str]) -> dict[str, str]:
    """Where each input file a result used is kept inside its folder (parameter name -> relative path)."""
    return {name: f"inputs/{name}{Path(source).suffix.lower()}" for name, source in inputs.items()
            if source and Path(source).is_file()}


def _copy_inputs(inputs: dict[str, str], folder: Path) -> dict[str, str]:
    """Keep the input files a result used, so it can be remade later."""
    kept = input_names(inputs)
    for name, relative in kept.items():
        target = folder / relative
        target.parent.mkdir(exist_ok=True)
        shutil.copyfile(inputs[name], target)
    return kept


class DiskFull(OSError):
    """The disk filled up while a result was being written; nothing of it was kept."""


def save(result: Result) -> Saved:
    """Write the MP4 (settings embedded), previews and inputs, sign, move into place, and index it.

    Crash-consistent: everything is written into a scratch folder, which is moved to its final name and indexed
    in one index transaction, so a share link never points at a half-written result. Whatever a killed process
    leaves behind is removed at the next start-up (pipelines.retention.recover)."""
    started = time.perf_counter()
    result_id, scratch = new_result_dir()
    return _publish(result_id, scratch, result.task, lambda: _write(result, result_id, scratch), started)


@dataclass
class Encoded:
    """A result as a cluster worker hands it back: its files already encoded (the MP4 with its settings embedded,
    the previews), never raw frames; the web process signs, places and indexes it like any other result."""

    task: str
    id: str
    info: dict
    files: dict[str, bytes]                   # path inside the result folder -> content
    previews: dict[str, str]                  # preview name -> file name
    inputs: dict[str, str] = field(default_factory=dict)  # parameter name -> input file on the web process


def encode(result: Result, result_id: str) -> Encoded:
    """The MP4 and previews of a result as bytes (on a worker); input files are named, not copied: the web
    process keeps its own copies (`Encoded.inputs`, filled in by the caller)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="studio-encode-") as scratch:
        folder = Path(scratch)
        info, previews = _write(result, result_id, folder, copy_inputs=False)
        files = {str(path.relative_to(folder)): path.read_bytes() for path in folder.rglob("*") if path.is_file()}
    return Encoded(result.task, result_id, info, files, previews)


def save_encoded(encoded: Encoded) -> Saved:
    """Place a worker's encoded result like `save` does: scratch folder, signature, atomic move, index last."""
    started = time.perf_counter()
    result_id, scratch = new_result_dir(encoded.id)

    def write():
        for relative, content in encoded.files.items():
            target = (scratch / relative).resolve()
            if not target.is_relative_to(scratch.resolve()):
                raise RuntimeError("a worker returned a file outside its result folder")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        _copy_inputs(encoded.inputs, scratch)
        return encoded.info, encoded.previews

    return _publish(result_id, scratch, encoded.task, write, started)


def _publish(result_id: str, scratch: Path, task: str, write, started: float) -> Saved:
    """`write()` fills the scratch folder and returns (metadata, preview files); then sign, move and index."""
    folder, published = result_folder(result_id), False
    try:
        info, previews = write()
        _sign(scratch / f"{task}.mp4", info)
        info["timings"]["encode_s"] = round(time.perf_counter() - started, 3)
        info["files"] = _file_sizes(scratch)  # what a complete folder holds (start-up recovery checks it)
        with closing(_db()) as db:
            db.execute("BEGIN IMMEDIATE")  # recovery takes this lock too, so it never sees the folder unindexed
            _move_into_place(scratch, folder)
            _index(db, result_id, task, info)
            db.commit()
            published = True
    except BaseException as exc:
        shutil.rmtree(scratch, ignore_errors=True)
        if not published:
            shutil.rmtree(folder, ignore_errors=True)
        if is_disk_full(exc):
            raise DiskFull(errno.ENOSPC, "The disk is full; the result was not saved.") from exc
        raise
    from pipelines import retention

    try:
        retention.enforce(keep=result_id)
    except Exception:  # the result is saved; a failed clean-up must not turn it into an error
        logging.getLogger("studio").exception("retention failed after saving %s", result_id)
    _push_to_hub()
    return Saved(result_id, folder / f"{task}.mp4", {name: folder / file for name, file in previews.items()},
                 info)


def is_disk_full(exc: BaseException | None) -> bool:
    """ENOSPC anywhere in the chain: from Python, from ffmpeg (media), or SQLite's "database or disk is full"."""
    while exc is not None:
        if getattr(exc, "errno", None) == errno.ENOSPC or "disk is full" in str(exc) \
                or "No space left on device" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _write(result: Result, result_id: str, folder: Path, copy_inputs: bool = True) -> tuple[dict, dict[str, str]]:
    """The MP4 with its settings, the previews and the inputs, written into `folder`; returns the metadata and
    each preview's file name."""
    inputs = _copy_inputs(result.inputs, folder) if copy_inputs else input_names(result.inputs)
    info = {"id": result_id, "task": result.task, "ai_generated": True, "generator": "video-studio",
            "settings": result.settings, "timings": dict(result.timings), "versions": library_versions(),
            "inputs": inputs,
            "licence": presets.licence_of(result.task, result.settings.get("preset", ""))}
    frames = result.frames
    if os.environ.get("STUDIO_WATERMARK", "").strip().lower() in {"1", "true", "yes", "on"}:
        from pipelines import provenance

        frames = provenance.watermark(frames)  # a visible "AI-generated" mark, on top of the C2PA manifest
        info["watermarked"] = True
    media.write_mp4(folder / f"{result.task}.mp4", frames, result.fps, audio=result.audio,
                    sample_rate=result.sample_rate, metadata=info)
    previews = {name: _write_preview(folder, name, preview, result.fps).name
                for name, preview in result.previews.items()}
    return info, previews


def _file_sizes(folder: Path) -> dict[str, int]:
    return {str(path.relative_to(folder)): path.stat().st_size for path in sorted(folder.rglob("*"))
            if path.is_file()}


def _move_into_place(scratch: Path, folder: Path) -> None:
    os.rename(scratch, folder)  # atomic on one filesystem; the id is new, so nothing is there yet


def _index(db: sqlite3.Connection, result_id: str, task: str, info: dict) -> None:
    db.execute("INSERT INTO results VALUES (?, ?, ?, ?, ?)",
               (result_id, task, time.time(), OWNER.get(), json.dumps(info, ensure_ascii=False)))


def _write_preview(folder: Path, name: str, preview: np.ndarray, fps: float) -> Path:
    """A video preview (T, H, W, 3) as an MP4, a picture (H, W, 3) as a PNG."""
    if preview.ndim == 3:
        from PIL import Image

        path = folder / f"{name}.png"
        Image.fromarray(preview).save(path)
        return path
    return media.write_mp4(folder / f"{name}.mp4", preview, fps)


def _sign(video: Path, info: dict) -> None:
    """A C2PA manifest that declares the video AI-generated (on unless STUDIO_C2PA=0)."""
    if os.environ.get("STUDIO_C2PA", "1") == "0":
        return
    from pipelines import provenance

    provenance.sign(video, title=f"{info['task']} {info['id']}", settings=info["settings"])


@cache
def _scheduler():
    from huggingface_hub import CommitScheduler

    return CommitScheduler(repo_id=os.environ["STUDIO_RESULTS_REPO"], repo_type="dataset",
                           folder_path=outputs_root(), every=10, private=True,
                           # never a save still being written, nor the key that signs ownership cookies
                           ignore_patterns=[f"{INCOMING}/**", owners.KEY_FILE],
                           token=os.environ.get("HF_TOKEN") or None)


def _push_to_hub() -> None:
    """On Spaces, results can outlive the container: a background commit to a dataset repo every 10 minutes."""
    if os.environ.get("STUDIO_RESULTS_REPO"):
        _scheduler()
