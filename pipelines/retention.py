"""Keeping the results folder healthy over months: start-up recovery and retention.

Recovery (at start-up) removes what a killed process left: unfinished saves, folders without an index entry and
index entries without a complete folder. Retention removes the oldest results past STUDIO_KEEP_DAYS or
STUDIO_MAX_OUTPUTS_GB and remembers their ids, so their share links can say "expired" (HTTP 410) instead of
"not found".
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from pipelines import store

log = logging.getLogger("studio")

# On a Space the disk is shared by every visitor for months: keep a month, and stay well inside the smallest
# persistent storage tier (20 GB). Locally results are the owner's own files: kept until they delete them.
SPACE_KEEP_DAYS = 30
SPACE_MAX_OUTPUTS_GB = 15.0


@dataclass(frozen=True)
class Policy:
    keep_days: float      # 0 = forever
    max_bytes: int        # 0 = no limit

    @property
    def active(self) -> bool:
        return self.keep_days > 0 or self.max_bytes > 0


def _env_number(name: str, default: float) -> float:
    try:
        return max(0.0, float(os.environ.get(name, default)))
    except ValueError:
        return default


def policy() -> Policy:
    on_space = bool(os.environ.get("SPACE_ID"))
    days = _env_number("STUDIO_KEEP_DAYS", SPACE_KEEP_DAYS if on_space else 0)
    gigabytes = _env_number("STUDIO_MAX_OUTPUTS_GB", SPACE_MAX_OUTPUTS_GB if on_space else 0)
    return Policy(keep_days=days, max_bytes=int(gigabytes * 1024**3))


def _db():
    db = store._db()
    db.execute("CREATE TABLE IF NOT EXISTS expired (id TEXT PRIMARY KEY, removed REAL NOT NULL)")
    return db


def is_expired(result_id: str) -> bool:
    """True for a result that retention removed (its share link answers 410)."""
    if not isinstance(result_id, str) or not store.ID_PATTERN.match(result_id):
        return False
    with closing(_db()) as db:
        return db.execute("SELECT 1 FROM expired WHERE id = ?", (result_id,)).fetchone() is not None


def _size(result_id: str, metadata: dict) -> int:
    files = metadata.get("files")
    if isinstance(files, dict) and files:
        return sum(int(size) for size in files.values())
    folder = store.result_folder(result_id)  # indexed before sizes were recorded: ask the disk
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file()) if folder.is_dir() else 0


def enforce(keep: str = "", now: float | None = None) -> list[str]:
    """Remove results older than the policy allows, then the oldest ones until the rest fit the size limit.

    `keep` is never removed (the result just made, which its visitor is about to watch). Returns the ids
    removed. Rows go first (moved to `expired`, one transaction), folders after: a crash in between leaves
    folders without rows, which recovery removes."""
    rules = policy()
    if not rules.active:
        return []
    now = time.time() if now is None else now
    with closing(_db()) as db:
        db.execute("BEGIN IMMEDIATE")
        rows = db.execute("SELECT id, created, metadata FROM results ORDER BY created DESC").fetchall()
        total, doomed = 0, []
        for result_id, created, metadata in rows:  # newest first: what is kept is a run of the newest
            total += _size(result_id, json.loads(metadata))
            too_old = rules.keep_days > 0 and created < now - rules.keep_days * 86400
            too_big = rules.max_bytes > 0 and total > rules.max_bytes
            if (too_old or too_big) and result_id != keep:
                doomed.append(result_id)
        db.executemany("INSERT OR REPLACE INTO expired VALUES (?, ?)", [(i, now) for i in doomed])
        db.executemany("DELETE FROM results WHERE id = ?", [(i,) for i in doomed])
        db.commit()
    for result_id in doomed:
        shutil.rmtree(store.result_folder(result_id), ignore_errors=True)
    if doomed:
        log.info("Retention removed %d result(s) (keep %g days, at most %.1f GB)", len(doomed), rules.keep_days,
                 rules.max_bytes / 1024**3)
    return doomed


def _complete(folder: Path, task: str, metadata: dict) -> bool:
    """Every file the save recorded is there with its size (older entries: the video is there, not empty)."""
    files = metadata.get("files")
    if not isinstance(files, dict) or not files:
        files = {f"{task}.mp4": None}
    for name, size in files.items():
        path = folder / name
        if not path.is_file() or (size is None and path.stat().st_size == 0) or \
                (size is not None and path.stat().st_size != size):
            return False
    return True


def _alive(pid: int) -> bool:
    if pid == os.getpid():  # at start-up this process has no save under way (a restarted container reuses ids)
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover() -> dict[str, int]:
    """Remove what an interrupted save or removal left behind; counts what was removed, and logs it."""
    root = store.outputs_root()
    counts = {"unfinished": 0, "unindexed": 0, "incomplete": 0}
    incoming = root / store.INCOMING
    for scratch in sorted(incoming.iterdir()) if incoming.is_dir() else []:
        pid = scratch.name.split("-", 1)[0]
        if pid.isdigit() and _alive(int(pid)):
            continue  # a save still under way in another process (e.g. the command line)
        shutil.rmtree(scratch, ignore_errors=True)
        counts["unfinished"] += 1
    with closing(_db()) as db:
        db.execute("BEGIN IMMEDIATE")  # saves publish under this lock: no folder is seen between move and index
        rows = db.execute("SELECT id, task, metadata FROM results").fetchall()
        indexed = set()
        for result_id, task, metadata in rows:
            if _complete(store.result_folder(result_id), task, json.loads(metadata)):
                indexed.add(result_id)
            else:
                db.execute("DELETE FROM results WHERE id = ?", (result_id,))
                shutil.rmtree(store.result_folder(result_id), ignore_errors=True)
                counts["incomplete"] += 1
        for folder in sorted(root.iterdir()):
            if folder.is_dir() and store.ID_PATTERN.match(folder.name) and folder.name not in indexed:
                shutil.rmtree(folder, ignore_errors=True)
                counts["unindexed"] += 1
        db.commit()
    log.info("Start-up check of %s: removed %d unfinished save(s), %d folder(s) without an index entry, "
             "%d index entr(ies) without a complete folder", root, counts["unfinished"], counts["unindexed"],
             counts["incomplete"])
    return counts


def start_up() -> dict[str, int]:
    """Recovery, then retention: what the server runs once before it serves."""
    counts = recover()
    counts["expired"] = len(enforce())
    return counts
