"""Benchmark: what the live preview costs inside the GPU window, on the tiny models.

    python bench/preview.py --json out.json

For each text-to-video preset and the default image-to-video preset, the same request runs with and without the
preview, alternating, several times; the figure is the ratio of the median seconds inside the GPU window
(preview / no preview). Target: at most 1.05. Encoding previews for the page happens outside the window and is
reported separately (per preview).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.run import make_inputs, smoke_mode  # noqa: E402

TARGET = 1.05


def window_seconds(run_live, request, preview: bool) -> tuple[float, int, float]:
    """(seconds inside the GPU window, previews shown, seconds of it spent making previews)."""
    from pipelines import preview as preview_mod
    from pipelines import runtime

    before, spent = runtime.STATS.seconds_inside, preview_mod.SPENT["seconds"]
    shown = sum(kind == "preview" for kind, _ in run_live(request, preview=preview))
    return runtime.STATS.seconds_inside - before, shown, preview_mod.SPENT["seconds"] - spent


def measure(run_live, request, repeats: int) -> dict:
    """Alternating runs with and without the preview; the ratio of medians is the end-to-end figure (noisy on a
    shared CPU), the preview's own share of its window the direct one."""
    window_seconds(run_live, request, True)  # warm up: load, first-call kernels
    plain, live, share, shown = [], [], [], 0
    for _ in range(repeats):
        plain.append(window_seconds(run_live, request, False)[0])
        seconds, shown, spent = window_seconds(run_live, request, True)
        live.append(seconds)
        share.append(spent / seconds)
    ratio = statistics.median(live) / statistics.median(plain)
    return {"seconds_without": round(statistics.median(plain), 4), "seconds_with": round(statistics.median(live), 4),
            "previews": shown, "ratio": round(ratio, 4),
            "preview_share_of_window": round(statistics.median(share), 4),
            "within_target": 1 + statistics.median(share) <= TARGET}


def encode_seconds() -> float:
    """Outside the window: one preview picture made into the inline image the page shows."""
    import numpy as np

    from tabs import _widgets

    strip = np.random.default_rng(0).integers(0, 255, (120, 420, 3), dtype=np.uint8)
    start = time.perf_counter()
    for _ in range(20):
        _widgets.preview_markdown(strip)
    return round((time.perf_counter() - start) / 20, 5)


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    scratch = smoke_mode()
    from pipelines import image_to_video, presets, text_to_video

    report = {"target_ratio": TARGET, "steps": args.steps, "repeats": args.repeats, "presets": {}}
    for key, preset in presets.presets("text_to_video").items():
        steps = min(args.steps, preset.limits.max_steps)  # distilled presets allow only their own few steps
        request = text_to_video.Request(prompt="a lighthouse at dusk", preset=key, steps=steps, num_frames=17)
        report["presets"][f"text_to_video/{key}"] = measure(text_to_video.run_live, request, args.repeats)
    image = make_inputs(scratch / "inputs")["image"]
    request = image_to_video.Request(image=str(image), prompt="a cat", steps=args.steps)
    report["presets"]["image_to_video/default"] = measure(image_to_video.run_live, request, args.repeats)
    report["encode_seconds_per_preview_outside_window"] = encode_seconds()
    report["worst_ratio"] = max(entry["ratio"] for entry in report["presets"].values())
    report["worst_preview_share"] = max(entry["preview_share_of_window"] for entry in report["presets"].values())
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    return report


if __name__ == "__main__":
    main()
