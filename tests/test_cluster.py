"""The same app on a Ray cluster: a local cluster with two CPU workers, declared through a custom resource.

Jobs go to a free worker (the one that holds their model first), a dead worker's job is retried on the other one
and only the finished attempt is indexed, and 16 clients across every tab through the served API all get their own,
seed-reproducible video. Without STUDIO_RAY_ADDRESS nothing of Ray is imported.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import httpx
import numpy as np
import pytest
from gradio_client import Client, handle_file

from pipelines import jobs, media, runtime, store
from pipelines import text_to_video as t2v
from tests import factory
from tests.conftest import ROOT, free_port
from tests.video_checks import probe

RESOURCE = "studio_gpu"
SMALL = dict(preset="wan2.2-ti2v-5b", num_frames=5, steps=2)


@pytest.fixture(scope="module")
def ray_cluster():
    """One local Ray cluster for this module: two worker slots of a custom resource standing for two GPUs."""
    import ray

    saved = {name: os.environ.get(name) for name in ("STUDIO_RAY_ADDRESS", "STUDIO_RAY_RESOURCE")}
    os.environ.update(STUDIO_RAY_ADDRESS="local", STUDIO_RAY_RESOURCE=RESOURCE)
    from pipelines import cluster

    cluster.RESOURCE = RESOURCE
    cluster.connect(num_cpus=4, resources={RESOURCE: 2}, object_store_memory=300 * 1024**2,
                    configure_logging=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        cluster.reset()
        ray.shutdown()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def indexed_ids() -> set[str]:
    with closing(sqlite3.connect(store.outputs_root() / "index.sqlite3")) as db:
        return {row[0] for row in db.execute("SELECT id FROM results")}


def make(request, progress=jobs.noop, **kwargs) -> store.Saved:
    return jobs.saved(jobs.make(t2v, request, progress, **kwargs))


def test_a_second_request_for_a_model_goes_to_the_worker_that_loaded_it(ray_cluster):
    from pipelines import cluster

    first = make(t2v.Request(prompt="a fox", seed=1, **SMALL))
    make(t2v.Request(prompt="a fox", seed=2, **SMALL))
    third = make(t2v.Request(prompt="a fox", seed=1, **SMALL))
    reports = cluster.pool().statuses()
    assert len(reports) == 2
    assert sorted(report["loads"] for report in reports.values()) == [0, 1]  # loaded once, by one worker
    assert [len(slot.held) for slot in cluster.pool().workers].count(1) == 1
    assert sorted(slot.done for slot in cluster.pool().workers) == [0, 3]
    # the video came back encoded and was placed in this process's store, the same seed gives the same video
    assert {first.id, third.id} <= indexed_ids()
    assert np.array_equal(probe(first.video).frames, probe(third.video).frames)
    assert media.read_metadata(first.video)["settings"]["seed"] == 1


def test_progress_previews_and_stop_come_from_the_worker(ray_cluster):
    steps, previews = [], []

    def progress(step, total):
        steps.append((step, total))

    events = list(jobs.make(t2v, t2v.Request(prompt="a fox", seed=3, **SMALL), progress, preview=True,
                            settings={"original_prompt": "fox"}))
    previews = [value for kind, value in events if kind == "preview"]
    assert steps == [(1, 2), (2, 2)] and len(previews) == 2 and previews[0].dtype == np.uint8
    saved = events[-1][1]
    assert media.read_metadata(saved.video)["settings"]["original_prompt"] == "fox"

    before = indexed_ids()

    def stop_after_first_step(step, total):
        runtime.request_cancel("visitor")
        runtime.raise_if_cancelled("visitor")

    with pytest.raises(runtime.Cancelled):
        make(t2v.Request(prompt="a fox", seed=4, preset="wan2.2-ti2v-5b", num_frames=5, steps=6),
             stop_after_first_step)
    assert indexed_ids() == before


def test_a_worker_killed_mid_job_hands_the_job_to_the_other_one(ray_cluster):
    import ray

    from pipelines import cluster

    pool = cluster.pool()
    killed = []

    def kill_the_running_worker(step, total):
        if not killed:
            busy = [slot for slot in pool.workers if slot.busy]
            assert len(busy) == 1
            killed.append(busy[0])
            ray.kill(busy[0].actor, no_restart=True)  # mid-job: this step's worker dies

    before, done_before = indexed_ids(), {slot.name: slot.done for slot in pool.workers}
    saved = make(t2v.Request(prompt="a fox", seed=1, **SMALL), kill_the_running_worker)
    assert killed and killed[0] not in pool.workers
    survivors = [slot for slot in pool.workers if slot.done > done_before.get(slot.name, 0)]
    assert len(survivors) == 1 and survivors[0] is not killed[0]
    assert indexed_ids() - before == {saved.id}  # the killed attempt left no entry
    assert not list((store.outputs_root() / store.INCOMING).glob(f"{os.getpid()}-*"))
    assert media.read_metadata(saved.video)["settings"]["seed"] == 1


def test_a_job_whose_workers_die_twice_is_refused_and_nothing_is_kept(ray_cluster):
    import ray

    from pipelines import cluster

    pool = cluster.pool()

    def kill_every_worker(step, total):
        for slot in pool.workers:
            if slot.busy:
                ray.kill(slot.actor, no_restart=True)

    before = indexed_ids()
    with pytest.raises(jobs.WorkerLost):
        make(t2v.Request(prompt="a fox", seed=1, **SMALL), kill_every_worker)
    assert indexed_ids() == before
