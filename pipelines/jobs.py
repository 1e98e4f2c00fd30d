"""Where a task's job runs and how its result is kept: the one path every tab, the API, MCP and the CLI take.

By default the job runs in this process and its result is saved here, as always. With STUDIO_RAY_ADDRESS set
(`auto`, a cluster address, or `local`), it runs on a GPU worker of a Ray cluster (pipelines/cluster.py, the only
module that imports ray, imported only then) and comes back encoded, to be saved here in the same store.
"""

from __future__ import annotations

import os
import types
from collections.abc import Callable

from pipelines import store

# Request fields that name an input file: on a cluster their content travels with the job.
INPUT_FILES = ("image", "last_image", "video", "style_image", "character_image", "dance_video", "portrait", "audio")


class WorkerLost(RuntimeError):
    """The cluster worker running a job died, and so did the one it was retried on."""


class NoWorkers(RuntimeError):
    """The cluster has no GPU worker to run a job on."""


def noop(*args) -> None:
    pass


def cluster_address() -> str:
    return os.environ.get("STUDIO_RAY_ADDRESS", "").strip()


def on_cluster() -> bool:
    return bool(cluster_address())


def make(module: types.ModuleType, request, progress: Callable = noop, preview: bool = False,
         settings: dict | None = None, queued: Callable[[int], None] = noop, encoding: Callable[[], None] = noop):
    """Run a task's request and save its result. Yields ("preview", RGB strip) while denoising (when `preview`
    and the task has live previews), then ("saved", store.Saved).

    `progress` gets what the task reports per step (and may raise runtime.Cancelled: Stop); `settings` are added to
    the result's settings before it is written; `queued(place)` tells a job waiting for a cluster worker its place
    in the queue; `encoding()` is called when the frames are done and the video is being written."""
    if on_cluster():
        from pipelines import cluster

        saved = yield from cluster.make(module, request, progress, preview, settings or {}, queued, encoding)
    else:
        result = yield from produce(module, request, progress, preview)
        result.settings.update(settings or {})
        encoding()
        saved = store.save(result)
    yield "saved", saved


def produce(module: types.ModuleType, request, progress: Callable, preview: bool):
    """The task itself: yields its previews, returns its store.Result (in whichever process runs it)."""
    if preview and hasattr(module, "run_live"):
        for kind, value in module.run_live(request, progress, preview=True):
            if kind == "preview":
                yield kind, value
            else:
                return value
        raise RuntimeError("the generation ended without a result")
    return module.run(request, progress)


def saved(events) -> store.Saved:
    """The saved result at the end of `make`'s events (previews dropped)."""
    for kind, value in events:
        if kind == "saved":
            return value
    raise RuntimeError("the generation ended without a result")
