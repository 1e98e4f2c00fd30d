"""Benchmark: the Ray cluster mode on the tiny models, and what it costs the single-process mode.

    python bench/cluster.py --json out.json

1. Jobs per minute on a local Ray cluster whose two worker slots are a custom resource (no GPU needed): the same
   batch of tiny text-to-video jobs, sent at once, through a pool of one worker and through a pool of two, in this
   one run; the figure is the ratio (two / one). Each pool's workers are warmed up (model loaded) first.
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


def jobs_per_minute(pool, jobs_count: int) -> float:
    from pipelines import cluster, jobs
    from pipelines import text_to_video as t2v

    def one(seed: int) -> None:
        request = t2v.Request(prompt="a lighthouse", seed=seed, preset="wan2.2-ti2v-5b", num_frames=5, steps=2)
        jobs.saved(jobs.make(t2v, request))  # STUDIO_RAY_ADDRESS is set: through the cluster, as the app does

    cluster._pool = pool
    with ThreadPoolExecutor(max(1, pool.limit or 2)) as warm:  # every worker loads the model once, untimed
        list(warm.map(one, range(pool.limit or 2)))
    started = time.perf_counter()
    with ThreadPoolExecutor(jobs_count) as clients:
        list(clients.map(one, range(100, 100 + jobs_count)))
    return jobs_count / (time.perf_counter() - started) * 60


def cluster_throughput(jobs_count: int) -> dict:
    import ray

    os.environ.update(STUDIO_RAY_ADDRESS="local", STUDIO_RAY_RESOURCE=RESOURCE)
    from pipelines import cluster

    cluster.RESOURCE = RESOURCE
    cluster.connect(num_cpus=4, resources={RESOURCE: 2}, object_store_memory=300 * 1024**2)
    try:
        one = jobs_per_minute(cluster.Pool(limit=1), jobs_count)
        cluster.reset()
        two = jobs_per_minute(cluster.Pool(limit=2), jobs_count)
        cluster.reset()
    finally:
        ray.shutdown()
        os.environ.pop("STUDIO_RAY_ADDRESS")
    return {"jobs": jobs_count, "one_worker_jobs_per_min": round(one, 1), "two_workers_jobs_per_min": round(two, 1),
            "ratio_two_over_one": round(two / one, 2)}


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
    parser.add_argument("--repeats", type=int, default=5, help="app imports per variant")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    smoke_mode()
    report = {"start_up": start_up(args.repeats), "throughput": cluster_throughput(args.jobs)}
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text)


if __name__ == "__main__":
    main()
