"""Benchmark: the Ray cluster mode on the tiny models, and what it costs the single-process mode.

    python bench/cluster.py --json out.json

1. Jobs per minute on a local Ray cluster whose two worker slots are a custom resource (no GPU needed): batches of
   tiny text-to-video jobs, sent at once, alternately to one warm worker (the other held back) and to both, in this
   one run; the figure is the ratio of medians (two / one). On a CPU-only machine both workers share its cores.
2. Start-up of the single-process app: `import app` in fresh processes, with the cluster module present and with
   it removed (a copy of the code without pipelines/cluster.py), alternating; the figure is the ratio of medians
   (present / absent), and whether either process imported Ray (it must not).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.run import smoke_mode  # noqa: E402

RESOURCE = "bench_gpu"
IMPORT_PROBE = "import sys, time; t = time.perf_counter(); import app; print(time.perf_counter() - t, 'ray' in sys.modules)"


def one_job(seed: int) -> None:
    from pipelines import jobs
    from pipelines import text_to_video as t2v

    request = t2v.Request(prompt="a lighthouse", seed=seed, preset="wan2.2-ti2v-5b", num_frames=5, steps=2)
    jobs.saved(jobs.make(t2v, request))  # STUDIO_RAY_ADDRESS is set: through the cluster, as the app does


def jobs_per_minute(pool, workers: int, jobs_count: int, first_seed: int) -> float:
    """The batch sent at once, with all but `workers` of the pool's workers held back (marked busy)."""
    held_back = pool.workers[workers:]
    for slot in held_back:
        slot.busy = True
    try:
        started = time.perf_counter()
        with ThreadPoolExecutor(jobs_count) as clients:
            list(clients.map(one_job, range(first_seed, first_seed + jobs_count)))
        return jobs_count / (time.perf_counter() - started) * 60
    finally:
        for slot in held_back:
            pool.release(slot)


def cluster_throughput(jobs_count: int, rounds: int) -> dict:
    """One pool of two warm workers; rounds alternate between using one of them and using both."""
    import ray

    os.environ.update(STUDIO_RAY_ADDRESS="local", STUDIO_RAY_RESOURCE=RESOURCE)
    from pipelines import cluster

    cluster.RESOURCE = RESOURCE
    cluster.connect(num_cpus=4, resources={RESOURCE: 2}, object_store_memory=300 * 1024**2)
    try:
        pool = cluster.pool()
        with ThreadPoolExecutor(2) as warm:  # both workers start and load the model, untimed
            list(warm.map(one_job, range(2)))
        assert len(pool.workers) == 2 and all(slot.done == 1 for slot in pool.workers), "warm-up missed a worker"
        one, two = [], []
        for index in range(rounds):
            one.append(jobs_per_minute(pool, 1, jobs_count, 1000 * index + 100))
            two.append(jobs_per_minute(pool, 2, jobs_count, 1000 * index + 500))
        cluster.reset()
    finally:
        ray.shutdown()
        os.environ.pop("STUDIO_RAY_ADDRESS")
    one_m, two_m = statistics.median(one), statistics.median(two)
    return {"jobs_per_round": jobs_count, "rounds": rounds, "one_worker_jobs_per_min": round(one_m, 1),
            "two_workers_jobs_per_min": round(two_m, 1), "ratio_two_over_one": round(two_m / one_m, 2),
            "rounds_one": [round(x, 1) for x in one], "rounds_two": [round(x, 1) for x in two]}


def import_seconds(folder: Path) -> tuple[float, bool]:
    env = {k: v for k, v in os.environ.items() if k != "STUDIO_RAY_ADDRESS"}
    out = subprocess.run([sys.executable, "-c", IMPORT_PROBE], cwd=folder, env=env, capture_output=True, text=True,
                         check=True, timeout=300).stdout.split()
    return float(out[-2]), out[-1] == "True"


def start_up(repeats: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="studio-no-cluster-") as scratch:
        without = Path(scratch) / "app"
        shutil.copytree(ROOT, without, ignore=shutil.ignore_patterns(".git", "outputs", "__pycache__", "test-artifacts"))
        (without / "pipelines" / "cluster.py").unlink()
        present, absent, ray_imported = [], [], False
        for _ in range(repeats):
            for folder, times in ((ROOT, present), (without, absent)):
                seconds, imported = import_seconds(folder)
                times.append(seconds)
                ray_imported |= imported
    return {"repeats": repeats, "import_s_with_cluster_module": round(statistics.median(present), 3),
            "import_s_without_cluster_module": round(statistics.median(absent), 3),
            "ratio_with_over_without": round(statistics.median(present) / statistics.median(absent), 3),
            "ray_imported": ray_imported}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=8, help="tiny jobs per pool")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of one and of two workers")
    parser.add_argument("--repeats", type=int, default=5, help="app imports per variant")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    smoke_mode()
    report = {"start_up": start_up(args.repeats), "throughput": cluster_throughput(args.jobs, args.rounds)}
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text)


if __name__ == "__main__":
    main()
