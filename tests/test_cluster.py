"""The same app on a Ray cluster: a local cluster with two CPU workers, declared through a custom resource.

Jobs go to a free worker (the one that holds their model first), a dead worker's job is retried on the other one
and only the finished attempt is indexed, and 16 clients across every tab through the served API all get their own,
seed-reproducible video. Without STUDIO_RAY_ADDRESS nothing of Ray is imported.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing

import numpy as np
import pytest
from gradio_client import Client, handle_file

from pipelines import jobs, media, runtime, store
from pipelines import text_to_video as t2v
from tests import factory
from tests.conftest import ROOT, serving
from tests.video_checks import probe

RESOURCE = "studio_gpu"
SMALL = dict(preset="wan2.2-ti2v-5b", num_frames=5, steps=2)


NO_RAY_PROBE = """
import sys
import app
from pipelines import jobs, text_to_video as t2v
saved = jobs.saved(jobs.make(t2v, t2v.Request(prompt="a fox", preset="wan2.2-ti2v-5b", num_frames=5, steps=1)))
assert saved.video.is_file()
print(sorted(name for name in sys.modules if name == "ray" or name.startswith("ray.")))
"""


def test_single_process_mode_never_imports_ray():
    env = {name: value for name, value in os.environ.items() if name != "STUDIO_RAY_ADDRESS"}
    done = subprocess.run([sys.executable, "-c", NO_RAY_PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


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
    from pipelines import cluster

    deadline = time.monotonic() + 60
    while any(report["running"] for report in cluster.pool().statuses().values()):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    # the worker itself ended the job at a step (not after running all six)
    assert sum(report["stopped"] for report in cluster.pool().statuses().values()) == 1


def test_a_waiting_job_is_told_its_place_and_runs_when_a_worker_frees(ray_cluster):
    from pipelines import cluster

    pool = cluster.pool()
    with pool._changed:
        pool.grow()
    assert len(pool.workers) == 2
    for slot in pool.workers:  # both GPUs taken
        slot.busy = True
    places: dict[int, list[int]] = {1: [], 2: []}
    made: dict[int, store.Saved] = {}

    def visitor(seed):
        made[seed] = make(t2v.Request(prompt="a fox", seed=seed, **SMALL), queued=places[seed].append)

    def wait_for(condition):
        deadline = time.monotonic() + 60
        while not condition():
            assert time.monotonic() < deadline
            time.sleep(0.05)

    first, second = (threading.Thread(target=visitor, args=(seed,)) for seed in (1, 2))
    try:
        first.start()
        wait_for(lambda: places[1] == [1])
        second.start()
        wait_for(lambda: places[2] == [2])
        pool.release(pool.workers[0])  # one GPU frees: the first in line takes it, the second moves up
        first.join(timeout=120)
        second.join(timeout=120)
    finally:
        for slot in pool.workers[1:]:
            pool.release(slot)
    assert places == {1: [1], 2: [2, 1]} and set(made) == {1, 2}


def test_a_job_whose_workers_die_twice_is_refused_clearly_and_nothing_is_kept(ray_cluster, monkeypatch):
    import gradio as gr
    from ray import exceptions as ray_errors

    from pipelines import cluster
    from tabs import _widgets as w
    from tabs import i18n

    tried = []

    def dies(slot, job, progress):
        tried.append(slot.name)
        raise ray_errors.ActorDiedError()
        yield  # a generator, like the real one

    monkeypatch.setattr(cluster, "_follow", dies)
    monkeypatch.setattr(cluster.Pool, "lose", lambda self, slot: None)  # keep the real workers for later tests
    before = indexed_ids()

    @w.friendly_errors
    def generate():
        return make(t2v.Request(prompt="a fox", seed=1, **SMALL))

    with pytest.raises(gr.Error) as refused:
        generate()
    assert len(tried) == 2 and tried[0] != tried[1]  # retried once, on another worker
    assert refused.value.message == i18n.message("errors.worker_lost", "en")
    assert indexed_ids() == before


# --------------------------------------------------------------------------------- the served app, every tab


@pytest.fixture(scope="module")
def cluster_url(ray_cluster):
    """The app as production serves it, built with STUDIO_RAY_ADDRESS set (every admitted request is handed on to
    the cluster's queue), on its own port."""
    import app
    import server

    with serving(server.create_app(app.build_demo(), **app.launch_kwargs()), "the cluster app") as url:
        yield url


@pytest.fixture(scope="module")
def media_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cluster-media")
    from PIL import Image

    Image.fromarray(factory.face_pixels()).save(folder / "face.png")
    return {"image": factory.image(folder / "first.png", 96, 64, seed=3),
            "character": factory.image(folder / "character.png", 64, 96, seed=1),
            "dance": factory.video(folder / "dance.mp4", seconds=1.0, fps=30, width=96, height=64),
            "source": factory.video(folder / "source.mp4", seconds=1.0, fps=30),
            "face": folder / "face.png", "speech": factory.wav(folder / "speech.wav", 0.5)}


def _calls(files) -> list[tuple[str, int, dict]]:
    """16 requests over the five tabs: two per seed, so each pair must agree and the other seeds differ."""
    per_tab = {
        "/text_to_video": lambda: dict(prompt="a lighthouse at dusk", **SMALL),
        "/image_to_video": lambda: dict(image=handle_file(str(files["image"])), prompt="it moves", num_frames=5,
                                        steps=2, preset="wan2.2-ti2v-5b"),
        "/stylize_video": lambda: dict(video=handle_file(str(files["source"])), prompt="a watercolor",
                                       control="canny", max_seconds=1.0),
        "/dance": lambda: dict(character_image=handle_file(str(files["character"])),
                               dance_video=handle_file(str(files["dance"])), prompt="a robot dancing"),
        "/lip_sync": lambda: dict(portrait=handle_file(str(files["face"])), audio=handle_file(str(files["speech"])),
                                  consent=True),
    }
    seeds = {"/text_to_video": [100, 100, 101, 101], "/image_to_video": [200, 200, 201, 201],
             "/stylize_video": [300, 300], "/dance": [400, 400], "/lip_sync": [500, 500, 501, 501]}
    return [(api, seed, per_tab[api]()) for api, values in seeds.items() for seed in values]


def test_sixteen_clients_across_every_tab_each_get_their_own_reproducible_video(cluster_url, media_files):
    from pipelines import cluster

    calls = _calls(media_files)
    assert len(calls) == 16 and len({api for api, _, _ in calls}) == 5

    def one(call):
        api, seed, kwargs = call
        outputs = Client(cluster_url, verbose=False).predict(seed=seed, api_name=api, **kwargs)
        return api, seed, outputs[0], outputs[-1]

    with ThreadPoolExecutor(len(calls)) as pool:
        results = list(pool.map(one, calls))

    assert len({video for _, _, video, _ in results}) == 16  # none lost or shared
    frames: dict[tuple[str, int], list[np.ndarray]] = {}
    for api, seed, video, used in results:
        meta = media.read_metadata(video)
        assert used == seed and meta["settings"]["seed"] == seed and meta["task"] == api.strip("/")
        assert meta["id"] in indexed_ids()  # placed in this process's store like any other result
        frames.setdefault((api, seed), []).append(probe(video).frames)
    for (api, seed), pair in frames.items():
        assert len(pair) == 2 and np.array_equal(pair[0], pair[1]), f"{api} seed {seed} gave two videos"
    for api in ("/text_to_video", "/image_to_video", "/lip_sync"):
        low, high = sorted(seed for name, seed in frames if name == api)
        assert not np.array_equal(frames[(api, low)][0], frames[(api, high)][0]), f"{api}: two seeds, one video"
    # the same settings made by this process alone give the very same video
    made = next(video for api, seed, video, _ in results if (api, seed) == ("/text_to_video", 100))
    settings = media.read_metadata(made)["settings"]
    fields = {name: settings[name] for name in t2v.Request.__dataclass_fields__ if name in settings}
    os.environ.pop("STUDIO_RAY_ADDRESS")
    try:
        alone = make(t2v.Request(**fields))
    finally:
        os.environ["STUDIO_RAY_ADDRESS"] = "local"
    assert np.array_equal(probe(alone.video).frames, frames[("/text_to_video", 100)][0])
    reports = cluster.pool().statuses()
    assert len(reports) == 2 and all(report["loads"] + report["helper_loads"] > 0 for report in reports.values())


# ------------------------------------------------------------------------------------ a worker dies


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
