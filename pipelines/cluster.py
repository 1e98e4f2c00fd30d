"""Generations on a Ray cluster: one worker (a Ray actor) per GPU, each with its own pipeline cache.

The only module that imports ray; pipelines/jobs.py imports it only when STUDIO_RAY_ADDRESS is set. The web process
checks the request, picks a worker and saves what comes back; the worker runs the task and returns the encoded
video and its settings (store.Encoded), never raw frames. Progress and live previews come back as they happen
through a Ray streaming generator; Stop asks the worker to cancel at its next step (runtime.request_cancel). A job
whose worker dies is retried once on another; a worker whose GPU joins the cluster later is used at once.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import os
import secrets
import tempfile
import threading
import time
import types
from collections.abc import Callable
from pathlib import Path

import ray
from ray import exceptions as ray_errors

from pipelines import jobs, runtime, store

log = logging.getLogger("studio")

# What each worker holds: one GPU ("GPU"), or a custom resource a cluster declares for its GPU slots.
RESOURCE = os.environ.get("STUDIO_RAY_RESOURCE", "GPU").strip() or "GPU"
# Settings that change how a video is made: a worker makes it as this web process would.
PASSED_ENV = ("STUDIO_TINY", "STUDIO_TINY_DIR", "STUDIO_WATERMARK", "STUDIO_OFFLOAD", "STUDIO_ATTENTION",
              "STUDIO_CACHE_GB", "STUDIO_COMMERCIAL_ONLY", "STUDIO_MAX_SIDE", "HF_HUB_OFFLINE")
WORKER_LOST = (ray_errors.RayActorError, ray_errors.WorkerCrashedError, ray_errors.ObjectLostError,
               ray_errors.ActorUnavailableError)


@dataclasses.dataclass
class Job:
    id: str                        # also the worker's cancel key
    result_id: str                 # chosen per attempt; only the attempt that comes back is ever indexed
    task: str                      # module under pipelines/
    request: object
    files: dict[str, tuple[str, bytes]]  # request field -> (file name, content): the inputs travel with the job
    preview: bool
    settings: dict


# ------------------------------------------------------------------------------------------------- worker


@ray.remote(max_restarts=0, max_concurrency=4)  # spare threads answer status() and cancel() during a run
class Worker:
    def __init__(self) -> None:
        self._gpu = threading.Lock()  # one job at a time on this GPU
        self._ran: set[tuple[str, str]] = set()
        self._running: str | None = None
        self._stopped = 0  # jobs ended by Stop
        importlib.import_module("pipelines.generation")  # torch and diffusers now, not in the first job
        importlib.import_module("diffusers")

    def status(self) -> dict:
        """What this worker reports: its process, the pipelines it loaded so far, the presets it holds now."""
        from pipelines import presets

        held = [(task, key) for task, key in self._ran
                if task == "lip_sync" or runtime.model_state(presets.get(task, key)) == "memory"]
        return {"pid": os.getpid(), "loads": runtime.CACHE.loads, "helper_loads": runtime.HELPERS.loads,
                "held": sorted(held), "running": self._running, "stopped": self._stopped}

    def cancel(self, job_id: str) -> None:
        runtime.request_cancel(job_id)

    @ray.method(num_returns="streaming")
    def run(self, job: Job):
        """Yields ("progress", args), ("preview", RGB strip) while the job runs, then ("result", (Encoded, status))."""
        with self._gpu:
            self._running = job.id
            try:
                yield from _work(job, self._ran)
            except runtime.Cancelled:
                self._stopped += 1
                raise
            finally:
                self._running = None
                runtime.clear_cancel(job.id)


def _work(job: Job, ran: set):
    from pipelines import generation

    module = importlib.import_module(f"pipelines.{job.task}")
    with tempfile.TemporaryDirectory(prefix="studio-job-") as scratch:
        request, originals = _unpack(job, Path(scratch))

        def work(emit):
            def progress(*args):
                emit(("progress", args))
                runtime.raise_if_cancelled(job.id)  # Stop, asked through cancel(): ends the run at this step

            events = jobs.produce(module, request, progress, job.preview)
            try:
                while True:
                    emit(next(events))
            except StopIteration as done:
                result = done.value
            ran.add((result.task, result.settings.get("preset", "")))
            result.settings.update(job.settings)
            encoded = store.encode(result, job.result_id)
            for name, path in result.inputs.items():  # the web process keeps its own copies of what it sent
                source = Path(path).resolve() if path else None
                if source in originals:
                    encoded.inputs[name] = originals[source]
                elif name in encoded.info["inputs"]:
                    encoded.files[encoded.info["inputs"][name]] = source.read_bytes()
            return encoded

        for kind, value in generation._stream(work, item="event", result="result"):
            yield value if kind == "event" else ("result", value)


def _unpack(job: Job, folder: Path) -> tuple[object, dict[Path, str]]:
    """The request with its input files written here; and which web-process file each local copy stands for."""
    changes, originals = {}, {}
    for name, (file_name, content) in job.files.items():
        local = folder / name / file_name
        local.parent.mkdir()
        local.write_bytes(content)
        changes[name] = str(local)
        originals[local.resolve()] = getattr(job.request, name)
    return dataclasses.replace(job.request, **changes), originals


# -------------------------------------------------------------------------------------------- web process


@dataclasses.dataclass(eq=False)
class Slot:
    """The web process's view of one worker."""

    actor: object
    name: str
    busy: bool = False
    held: set = dataclasses.field(default_factory=set)  # (task, preset) the worker reported holding
    last_used: float = 0.0
    done: int = 0


class Pool:
    """The workers and the jobs waiting for one, first come first served. A job takes an idle worker that holds
    its model if there is one, else the idle worker unused for longest."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit  # at most this many workers (a benchmark's one-worker run); None: one per GPU
        self.workers: list[Slot] = []
        self._waiting: list[tuple[object, tuple, frozenset]] = []  # (ticket, model key, workers to avoid)
        self._changed = threading.Condition()
        self._next_check = 0.0
        self._spawned = 0

    def grow(self) -> None:
        """One worker per unit of RESOURCE in the cluster now: a GPU that joined is used at once."""
        if time.monotonic() < self._next_check:
            return
        self._next_check = time.monotonic() + 1.0
        wanted = int(ray.cluster_resources().get(RESOURCE, 0))
        wanted = wanted if self.limit is None else min(wanted, self.limit)
        while len(self.workers) < wanted:
            self._spawned += 1
            name = f"worker-{self._spawned}"
            self.workers.append(Slot(_spawn(), name))
            log.info("cluster: %s started (%d of %d)", name, len(self.workers), wanted)

    def _assign(self) -> dict[object, Slot]:
        """Which waiting ticket gets which idle worker now, in arrival order."""
        idle = [slot for slot in self.workers if not slot.busy]
        given = {}
        for ticket, key, avoid in self._waiting:
            usable = [slot for slot in idle if slot.name not in avoid]
            if not usable:
                continue
            holders = [slot for slot in usable if key in slot.held]
            slot = holders[0] if holders else min(usable, key=lambda s: s.last_used)
            given[ticket] = slot
            idle.remove(slot)
        return given

    def acquire(self, key: tuple, queued: Callable[[int], None], avoid: frozenset = frozenset()) -> Slot:
        ticket, shown, started = object(), None, time.monotonic()
        with self._changed:
            self._waiting.append((ticket, key, avoid))
        try:
            while True:
                with self._changed:
                    self.grow()
                    slot = self._assign().get(ticket)
                    if slot is not None:
                        slot.busy, slot.last_used = True, time.monotonic()
                        return slot
                    if not self.workers and time.monotonic() - started > 60:
                        raise jobs.NoWorkers(f"The cluster has no worker with a {RESOURCE} resource.")
                    place = next(i for i, (t, _, _) in enumerate(self._waiting) if t is ticket) + 1
                if place != shown:
                    queued(place)  # may raise runtime.Cancelled: Stop pressed while waiting
                    shown = place
                with self._changed:
                    self._changed.wait(timeout=1.0)
        finally:
            with self._changed:
                self._waiting = [entry for entry in self._waiting if entry[0] is not ticket]
                self._changed.notify_all()

    def release(self, slot: Slot, status: dict | None = None) -> None:
        with self._changed:
            slot.busy = False
            if status is not None:
                slot.held = {tuple(key) for key in status["held"]}
            self._changed.notify_all()

    def lose(self, slot: Slot) -> None:
        with self._changed:
            if slot in self.workers:
                self.workers.remove(slot)
            self._next_check = 0.0  # a replacement, if the cluster still has its GPU
            self._changed.notify_all()

    def statuses(self) -> dict[str, dict]:
        """Each worker's own report (pid, load counts, presets held)."""
        slots = list(self.workers)
        return dict(zip([s.name for s in slots], ray.get([s.actor.status.remote() for s in slots], timeout=120),
                        strict=True))


_pool: Pool | None = None
_pool_lock = threading.Lock()


def connect(**local_options) -> None:
    """Join the cluster STUDIO_RAY_ADDRESS names (`auto`, host:port), or start one on this machine (`local`, using
    all its GPUs; `local_options` go to ray.init, e.g. the tests' custom resources). The pipelines package travels
    with the connection to every node, so a worker node needs the requirements installed but not this code."""
    if ray.is_initialized():
        return
    address = jobs.cluster_address()
    package = str(Path(__file__).resolve().parent)
    options = dict(log_to_driver=False, runtime_env={"py_modules": [package]})
    if address == "local":
        ray.init(include_dashboard=False, **options, **local_options)
    else:
        ray.init(address=address, **options)


def pool() -> Pool:
    global _pool
    with _pool_lock:
        if _pool is None:
            connect()
            _pool = Pool()
        return _pool


def reset() -> None:
    """Stop this process's workers and forget them (their GPUs are free for others)."""
    global _pool
    with _pool_lock:
        if _pool is not None and ray.is_initialized():
            for slot in _pool.workers:
                ray.kill(slot.actor, no_restart=True)
        _pool = None


def _spawn():
    placement = {"num_gpus": 1} if RESOURCE == "GPU" else {"resources": {RESOURCE: 1}}
    env = {name: os.environ[name] for name in PASSED_ENV if name in os.environ}
    return Worker.options(num_cpus=1, runtime_env={"env_vars": env}, **placement).remote()


def _pack(request) -> dict[str, tuple[str, bytes]]:
    files = {}
    for name in jobs.INPUT_FILES:
        path = getattr(request, name, None)
        if path and Path(path).is_file():
            files[name] = (Path(path).name, Path(path).read_bytes())
    return files


def make(module: types.ModuleType, request, progress: Callable, preview: bool, settings: dict,
         queued: Callable[[int], None], encoding: Callable[[], None]):
    """jobs.make on the cluster: check here, run on a worker (retried once on another if it dies), save here."""
    plan = module.plan(request)  # bad input is refused before any GPU is involved
    task = module.__name__.rsplit(".", 1)[-1]
    key = (plan.preset.task, plan.preset.key)
    files = _pack(request)
    lost: set[str] = set()
    while True:
        job = Job(secrets.token_hex(8), store.new_id(), task, request, files, preview, settings)
        slot = pool().acquire(key, queued, frozenset(lost))
        status = None
        try:
            encoded, status = yield from _follow(slot, job, progress)
        except WORKER_LOST as exc:
            pool().lose(slot)
            lost.add(slot.name)
            log.warning("cluster: %s died during a job (%s)", slot.name, type(exc).__name__)
            if len(lost) > 1:
                raise jobs.WorkerLost("The GPU workers running this job stopped twice.") from None
            continue
        finally:
            pool().release(slot, status)
        slot.done += 1
        encoding()
        return store.save_encoded(encoded)


def _follow(slot: Slot, job: Job, progress: Callable):
    """Pass a running job's progress and previews on; returns (Encoded, worker status)."""
    stream = slot.actor.run.remote(job)
    try:
        for ref in stream:
            kind, value = ray.get(ref)
            if kind == "progress":
                progress(*value)  # raises runtime.Cancelled when Stop was pressed
            elif kind == "preview":
                yield kind, value
            elif kind == "result":
                return value, ray.get(slot.actor.status.remote(), timeout=60)
    except runtime.Cancelled:
        slot.actor.cancel.remote(job.id)  # the worker stops at its next step
        raise
    except ray_errors.RayTaskError as exc:  # the task's own error (bad input found while running, out of memory)
        if isinstance(exc.cause, Exception):
            raise exc.cause from None
        raise
    raise ray_errors.WorkerCrashedError()  # the stream ended without a result
