"""Tiny random-weight models for tests and the offline smoke mode.

A builder is named "module:function" (for example "wan:t2v"); it lives in `pipelines/tiny/<module>.py`
and saves a model of the real class, with a tiny config, in the Hub layout at the path it is given.
The same `load()` code then reads that folder instead of a repo id.
"""

from __future__ import annotations

import importlib
import os
import tempfile
import threading
from pathlib import Path

_build_lock = threading.Lock()


def cache_root() -> Path:
    root = os.environ.get("STUDIO_TINY_DIR") or os.path.join(tempfile.gettempdir(), "studio-tiny-models")
    return Path(root)


def build(builder: str) -> Path:
    """Return the folder of the tiny model named by `builder`, building it on first use."""
    module_name, _, function_name = builder.partition(":")
    target = cache_root() / builder.replace(":", "-")
    done = target / ".complete"
    if done.exists():
        return target
    with _build_lock:
        if not done.exists():
            module = importlib.import_module(f"pipelines.tiny.{module_name}")
            target.mkdir(parents=True, exist_ok=True)
            getattr(module, function_name)(target)
            done.touch()
    return target
