"""Soak: a long mixed run against the served tiny app; server errors must stay at 0 and memory flat.

    python bench/soak.py                       # 300 requests from 4 clients
    python bench/soak.py --requests 600 --clients 6 --json soak.json

Starts `python app.py --tiny` in its own process, then several clients send a fixed mix of requests across
every tab: valid generations, invalid inputs (each must be refused with a clear message), share pages and
their videos, unknown ids. Prints JSON: counts per outcome, server errors (any 5xx, any "Something went
wrong", any traceback in the server's log other than a refusal's, any lost connection or answer slower than
60 s), how fast a plain page answers during the run, and the server's resident memory (RSS) after the first 30
requests and after the run, as a ratio (the target is at most 1.2).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import subprocess
import sys
import threading
import time
import traceback
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.run import _free_port, make_inputs, smoke_mode  # noqa: E402

BASELINE_AFTER = 30
TARGET_RATIO = 1.2
CLIENT_TIMEOUT_S = 60  # gradio_client's httpx default is 5 s, shorter than a busy CPU-only server may need
ID = re.compile(r"/r/([A-Za-z0-9_-]{22})")


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def mix(files: dict[str, Path]) -> list[tuple[str, str, dict]]:
    """One round of the mix: (kind, endpoint or path, arguments). Files are named by their key in `files`."""
    return [
        ("valid", "/text_to_video", {"prompt": "a lighthouse at dusk", "num_frames": 5}),
        ("invalid", "/text_to_video", {"prompt": "", "num_frames": 5}),
        ("share", "page", {}),
        ("valid", "/image_to_video", {"image": "image", "prompt": "a cat", "num_frames": 5}),
        ("invalid", "/image_to_video", {"image": "not_media", "prompt": "a cat", "num_frames": 5}),
        ("invalid", "/text_to_video", {"prompt": "a fox", "num_frames": 999}),
        ("valid", "/stylize_video", {"video": "video", "prompt": "oil painting", "control": "canny",
                                     "max_seconds": 1.0}),
        ("invalid", "/stylize_video", {"video": "not_media", "prompt": "oil painting", "max_seconds": 1.0}),
        ("share", "video", {}),
        ("valid", "/dance", {"character_image": "character", "dance_video": "skeleton",
                             "dance_is_skeleton": True, "max_seconds": 1.0}),
        ("invalid", "/dance", {"character_image": "not_media", "dance_video": "skeleton"}),
        ("unknown", "page", {}),
        ("valid", "/lip_sync", {"portrait": "face", "audio": "speech", "consent": True}),
        ("invalid", "/lip_sync", {"portrait": "face", "audio": "speech", "consent": False}),
        ("invalid", "/image_to_video", {"image": "image", "prompt": "a cat", "preset": "no-such-model"}),
    ]


class LatencyProbe(threading.Thread):
    """How quickly the server answers a plain page while the run goes on: a stalled server shows here."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url, self.seconds, self.stop = url + "r/" + "B" * 22, [], threading.Event()

    def run(self) -> None:
        import httpx

        while not self.stop.wait(0.5):
            started = time.perf_counter()
            try:
                httpx.get(self.url, timeout=CLIENT_TIMEOUT_S)
            except httpx.HTTPError:
                pass
            self.seconds.append(time.perf_counter() - started)

    def summary(self) -> dict:
        ordered = sorted(self.seconds) or [0.0]
        return {"samples": len(self.seconds), "median_s": round(ordered[len(ordered) // 2], 3),
                "p99_s": round(ordered[int(len(ordered) * 0.99)], 3), "max_s": round(ordered[-1], 3)}


class Soak:
    def __init__(self, url: str, files: dict[str, Path], pid: int):
        self.url, self.files, self.pid = url, files, pid
        self.lock = threading.Lock()
        self.done = 0
        self.outcomes: dict[str, int] = {}
        self.errors: list[str] = []
        self.made: list[str] = []
        self.rss_baseline = 0

    def _record(self, outcome: str, error: str | None = None) -> None:
        with self.lock:
            self.done += 1
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
            if error:
                self.errors.append(error[:300])
            if self.done == BASELINE_AFTER:
                self.rss_baseline = rss_bytes(self.pid)

    def run_one(self, client, kind: str, target: str, arguments: dict) -> None:
        import httpx
        from gradio_client import handle_file
        from gradio_client.exceptions import AppError

        if kind in ("share", "unknown"):
            with self.lock:
                result_id = self.made[-1] if self.made and kind == "share" else "A" * 22
            path = f"r/{result_id}" + ("/video.mp4" if target == "video" else "")
            status = httpx.get(self.url + path, timeout=60).status_code
            expected = 200 if kind == "share" and result_id != "A" * 22 else 404
            if status >= 500:
                return self._record("server_error", f"GET {path}: {status}")
            return self._record("ok" if status == expected else "unexpected", None if status == expected else
                                f"GET {path}: {status}, expected {expected}")
        sent = {k: handle_file(str(self.files[v])) if isinstance(v, str) and v in self.files else v
                for k, v in arguments.items()}
        try:
            outputs = client.predict(**sent, api_name=target)
        except AppError as exc:
            message = str(exc)
            if "Something went wrong" in message:
                return self._record("server_error", f"{target}: {message}")
            return self._record("refused" if kind == "invalid" else "unexpected",
                                None if kind == "invalid" else f"{target} refused a valid request: {message}")
        except Exception as exc:  # lost connection, protocol error, no answer within the timeout
            where = traceback.extract_tb(exc.__traceback__)[-1]
            return self._record("server_error", f"{kind} {target}: {type(exc).__name__}: {exc} "
                                                f"(in {Path(where.filename).name}:{where.name})")
        if kind == "invalid":
            return self._record("unexpected", f"{target} accepted an invalid request {arguments}")
        info = next((o for o in outputs if isinstance(o, str) and "/r/" in o), "")
        match = ID.search(info)
        if match:
            with self.lock:
                self.made.append(match.group(1))
        self._record("generated")


def unexpected_tracebacks(log: str) -> int:
    """Tracebacks in the server's log other than gradio's print-out of a gr.Error (a refusal with a message)."""
    blocks = log.split("Traceback (most recent call last):")[1:]
    return sum(1 for block in blocks
               if not re.search(r"^gradio\.exceptions\.Error: ", block, re.MULTILINE))


def _start_server(scratch: Path, port: int) -> tuple[subprocess.Popen, Path]:
    log = scratch / "server.log"
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([sys.executable, "app.py", "--tiny"], cwd=ROOT, env=env,
                               stdout=log.open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"app.py exited with code {process.returncode}: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                if response.status == 200:
                    return process, log
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the app did not answer within 180 s")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)
    scratch = smoke_mode()
    files = make_inputs(scratch / "inputs")
    not_media = scratch / "inputs" / "notes.png"
    not_media.write_text("this is text, not a picture or a video")
    files = {**files, "not_media": not_media}

    port = _free_port()
    process, log = _start_server(scratch, port)
    started = time.perf_counter()
    try:
        from gradio_client import Client

        url = f"http://127.0.0.1:{port}/"
        soak = Soak(url, files, process.pid)
        rss_start = rss_bytes(process.pid)
        schedule = list(itertools.islice(itertools.cycle(mix(files)), args.requests))
        clients = [Client(url, verbose=False, httpx_kwargs={"timeout": CLIENT_TIMEOUT_S})
                   for _ in range(args.clients)]
        probe = LatencyProbe(url)
        probe.start()

        def worker(index: int) -> None:
            for kind, target, arguments in schedule[index::args.clients]:
                soak.run_one(clients[index], kind, target, arguments)

        with ThreadPoolExecutor(args.clients) as pool:
            list(pool.map(worker, range(args.clients)))
        rss_end = rss_bytes(process.pid)
        probe.stop.set()
        probe.join()
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
    tracebacks = unexpected_tracebacks(log.read_text(errors="replace"))
    server_errors = soak.outcomes.get("server_error", 0) + tracebacks
    results = {
        "requests": soak.done, "clients": args.clients, "outcomes": soak.outcomes,
        "server_errors": server_errors, "tracebacks_in_server_log": tracebacks,
        "unexpected": soak.outcomes.get("unexpected", 0), "errors": soak.errors[:20],
        "rss_mb": {"start": round(rss_start / 2**20, 1), f"after_{BASELINE_AFTER}": round(soak.rss_baseline / 2**20, 1),
                   "end": round(rss_end / 2**20, 1)},
        "rss_ratio_end_vs_after_30": round(rss_end / soak.rss_baseline, 3) if soak.rss_baseline else None,
        "target_ratio": TARGET_RATIO, "answer_latency": probe.summary(), "client_timeout_s": CLIENT_TIMEOUT_S,
        "load_average": os.getloadavg(), "seconds": round(time.perf_counter() - started, 1),
    }
    text = json.dumps(results, indent=2)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    print(text)
    return results


if __name__ == "__main__":
    main()
