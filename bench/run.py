"""Benchmark on the tiny models: transformer evaluations per video (fast presets vs the models' own reference
settings), time inside vs outside the GPU window per tab, and app start-up vs importing Gradio alone.

    python bench/run.py --json out.json

Runs in the offline smoke mode. Evaluation counts depend only on the sampling settings, not on the weights or
the frame size, so the tiny model run with a preset's real steps, guidance and call arguments gives the figure
the real model would.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager, redirect_stdout
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TASKS = ("text_to_video", "image_to_video", "stylize_video", "dance", "lip_sync")
TARGET_RATIO = 10.0


def smoke_mode() -> Path:
    """Tiny models, outputs and provenance in a scratch folder; must run before any pipeline is imported.

    A STUDIO_TINY_DIR already set is kept, so repeated runs reuse the tiny models built once.
    """
    scratch = Path(tempfile.mkdtemp(prefix="studio-bench-"))
    os.environ["STUDIO_TINY"] = "1"
    os.environ.setdefault("STUDIO_TINY_DIR", str(scratch / "tiny"))
    os.environ["STUDIO_OUTPUTS"] = str(scratch / "outputs")
    os.environ["STUDIO_C2PA_DIR"] = str(scratch / "c2pa")
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return scratch


# ------------------------------------------------------------------------------------------------ inputs


def make_inputs(folder: Path) -> dict[str, Path]:
    from tests import factory

    folder.mkdir(parents=True, exist_ok=True)
    return {
        "image": factory.image(folder / "first.png", 96, 64, seed=1),
        "last_image": factory.image(folder / "last.png", 96, 64, seed=2),
        "video": factory.video(folder / "source.mp4", seconds=1.0, fps=8, width=96, height=64, audio=True),
        "character": factory.image(folder / "character.png", 64, 96, seed=3),
        "skeleton": ROOT / "assets" / "examples" / "dance" / "side_step.mp4",
        "face": factory.face(folder / "face.png"),
        "speech": factory.wav(folder / "speech.wav", seconds=1.0),
    }


def request(task: str, key: str, files: dict[str, Path]):
    """One short request per task (one window, one segment) for the preset `key`, at its current settings."""
    import importlib

    module = importlib.import_module(f"pipelines.{task}")
    if task == "text_to_video":
        return module.Request(prompt="a lighthouse at dusk", preset=key)
    if task == "image_to_video":
        return module.Request(image=str(files["image"]), prompt="a cat", preset=key,
                              last_image=str(files["last_image"]) if _takes_last_frame(key) else None)
    if task == "stylize_video":
        return module.Request(video=str(files["video"]), prompt="oil painting", preset=key, control="canny",
                              max_seconds=1.0)
    if task == "dance":
        return module.Request(files["character"], files["skeleton"], preset=key, dance_is_skeleton=True,
                              max_seconds=1.0)
    return module.Request(portrait=str(files["face"]), audio=str(files["speech"]), consent=True, preset=key)


def _takes_last_frame(key: str) -> bool:
    from pipelines import presets

    return presets.get("image_to_video", key).table("inputs").get("last_frame") != "none"


def denoiser_owner(task: str, key: str):
    """The loaded object whose transformer/transformer_2/unet the run will call (loaded outside any timing)."""
    import importlib

    from pipelines import presets, runtime

    module = importlib.import_module(f"pipelines.{task}")
    preset = presets.get(task, key)
    if task == "lip_sync":
        return module._models(preset)
    if task == "stylize_video":
        return module.load(preset)
    return runtime.pipeline(preset)


# ------------------------------------------------------------------------------------------- evaluations


def real_and_reference(task: str, key: str):
    """(fast, reference) tiny presets: the tiny model and size with the real preset's sampling settings (the
    reference in one stage: a two-stage preset's reference is the model's own full-size run)."""
    from pipelines import presets

    tiny, real = presets._load(task, True)[key], presets._load(task, False)[key]
    tiny_only_call = {k: v for k, v in tiny.call.items() if real.call.get(k) != v}  # e.g. a shorter text length
    fast = replace(tiny, call={**real.call, **tiny_only_call},
                   defaults=replace(tiny.defaults, steps=real.defaults.steps,
                                    guidance_scale=real.defaults.guidance_scale))
    ref = real.reference
    if not ref or (ref.get("steps", real.defaults.steps) == real.defaults.steps
                   and ref.get("guidance_scale", real.defaults.guidance_scale) == real.defaults.guidance_scale
                   and "call" not in ref):
        return fast, None
    one_stage = {name: table for name, table in tiny.tables.items() if name != "upsampler"}
    reference = replace(tiny, call={**ref.get("call", real.call), **tiny_only_call}, tables=one_stage,
                        loras=() if ref.get("loras") is False else tiny.loras,
                        defaults=replace(tiny.defaults, steps=ref.get("steps", real.defaults.steps),
                                         guidance_scale=ref.get("guidance_scale", real.defaults.guidance_scale)),
                        limits=replace(tiny.limits, max_steps=max(tiny.limits.max_steps, ref.get("steps", 0))))
    return fast, reference


@contextmanager
def preset_swapped(preset):
    """Serve `preset` in place of the tiny preset of the same key for the duration (bench only)."""
    from pipelines import presets

    table = presets._load(preset.task, True)
    original = table[preset.key]
    table[preset.key] = preset
    try:
        yield
    finally:
        table[preset.key] = original


def count(task: str, preset, files: dict[str, Path]) -> int:
    """Transformer evaluations of one tiny request run with `preset`'s settings."""
    import importlib

    from pipelines import speed

    module = importlib.import_module(f"pipelines.{task}")
    with preset_swapped(preset):
        owner = denoiser_owner(task, preset.key)
        with speed.count_evaluations(owner) as counted:
            module.run(request(task, preset.key, files))
    return counted.calls


def evaluations(files: dict[str, Path]) -> dict:
    from pipelines import presets

    report = {}
    for task in TASKS:
        rows = {}
        for key in presets._load(task, True):
            fast, reference = real_and_reference(task, key)
            fast_count = count(task, fast, files)
            ref_count = count(task, reference, files) if reference is not None else fast_count
            real = presets._load(task, False)[key]
            rows[key] = {
                "steps": fast.defaults.steps, "guidance_scale": fast.defaults.guidance_scale,
                "evaluations": fast_count,
                "estimator_evaluations": _estimator_count(task, real, fast.defaults.steps,
                                                          fast.defaults.guidance_scale),
                "reference_steps": reference.defaults.steps if reference else fast.defaults.steps,
                "reference_guidance_scale": (reference or fast).defaults.guidance_scale,
                "reference_evaluations": ref_count,
                "ratio": round(ref_count / fast_count, 2) if fast_count else None,
                "reference_source": real.reference.get("source", "no reference table: its own settings"),
            }
        best_key = max(rows, key=lambda k: rows[k]["ratio"] or 0)
        best = rows[best_key]["ratio"] or 0
        summary = {"presets": rows, "best_preset": best_key, "best_ratio": best, "reaches_10x": best >= TARGET_RATIO}
        summary["default"] = default_summary(task, rows)
        if best < TARGET_RATIO:
            summary["note"] = _below_target_note(task, rows)
        report[task] = summary
    return report


def _estimator_count(task: str, real, steps: int, guidance_scale: float) -> int | None:
    """The passes pipelines/cost.py charges for one window / segment at these settings (None: lip-sync counts frames)."""
    from pipelines import cost

    if task == "lip_sync":
        return None
    return cost.transformer_evaluations(real, steps, guidance_scale)
def default_summary(task: str, rows: dict) -> dict:
    """What a visitor gets without touching the picker: the first preset's evaluations per video (per segment
    for dance, per frame batch for lip-sync) and its ratio to the model's reference settings."""
    key = next(iter(rows))  # presets are listed default first
    row = rows[key]
    return {"preset": key, "evaluations": row["evaluations"], "reference_evaluations": row["reference_evaluations"],
            "ratio": row["ratio"], "at_most_10_evaluations": row["evaluations"] <= 10,
            "reaches_10x": (row["ratio"] or 0) >= TARGET_RATIO}


def _below_target_note(task: str, rows: dict) -> str:
    if all(row["steps"] == 1 for row in rows.values()):
        return (f"No {task} preset reaches {TARGET_RATIO:g}x: the model is single-step (one evaluation per "
                "frame batch already), so there is no step count to distill.")
    return (f"No {task} preset reaches {TARGET_RATIO:g}x: none of its presets ships a few-step distilled "
            "configuration with a reference to compare against; every preset runs the model's own settings.")


# ------------------------------------------------------------------------------------------ GPU boundary


def gpu_boundary(files: dict[str, Path]) -> dict:
    """One default tiny request per tab (models already loaded): time inside vs outside the GPU windows."""
    import importlib

    from pipelines import presets, runtime

    report = {}
    for task in TASKS:
        module = importlib.import_module(f"pipelines.{task}")
        key = next(iter(presets._load(task, True)))
        runtime.STATS.reset()
        started = time.perf_counter()
        module.run(request(task, key, files))
        total = time.perf_counter() - started
        inside = runtime.STATS.seconds_inside
        report[task] = {"preset": key, "seconds_total": round(total, 3), "seconds_inside": round(inside, 3),
                        "seconds_outside": round(total - inside, 3), "gpu_windows": runtime.STATS.calls,
                        "violations": list(runtime.STATS.violations)}
    return report


# ---------------------------------------------------------------------------------------------- start-up


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _seconds_until_page(timeout: float = 120.0) -> float:
    port = _free_port()
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port)}
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "app.py", "--tiny"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - started < timeout:
            if process.poll() is not None:
                raise RuntimeError(f"app.py exited with code {process.returncode} before serving the page")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                    if response.status == 200:
                        return time.perf_counter() - started
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"the app page did not answer within {timeout:g} s")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _seconds_to_import_gradio() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import gradio"], cwd=ROOT, check=True, env=os.environ.copy())
    return time.perf_counter() - started


def startup(repeats: int = 3) -> dict:
    app = statistics.median(_seconds_until_page() for _ in range(repeats))
    gradio = statistics.median(_seconds_to_import_gradio() for _ in range(repeats))
    return {"app_page_seconds": round(app, 3), "import_gradio_seconds": round(gradio, 3),
            "ratio": round(app / gradio, 2), "repeats": repeats}


# ------------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)
    scratch = smoke_mode()
    started = time.perf_counter()
    with redirect_stdout(sys.stderr):  # stdout carries only the JSON; libraries print notes of their own
        files = make_inputs(scratch / "inputs")
        results = {"evaluations": evaluations(files), "gpu_boundary": gpu_boundary(files), "startup": startup()}
    results["bench_seconds"] = round(time.perf_counter() - started, 1)
    text = json.dumps(results, indent=2)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    print(text)
    return results


if __name__ == "__main__":
    main()
