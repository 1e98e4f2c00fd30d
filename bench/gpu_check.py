"""Prove every preset on its real weights: download, load and run each one at a small size with few frames.

    python bench/gpu_check.py                                   # every task, every preset (CUDA + Hub access)
    python bench/gpu_check.py --tasks image_to_video --presets wan2.1-flf2v-14b
    python bench/gpu_check.py --tiny --json out.json            # the same run on the tiny models, on the CPU

Writes <out-dir>/report.json and report.html: per preset the load seconds, GPU seconds, peak GPU memory, the
estimator's figures beside the measured ones (seconds, memory, transformer passes), every LoRA or state-dict key
warning (a warning fails the preset) and the video. Exit code 0 when every preset passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import html
import importlib
import inspect
import json
import logging
import os
import re
import shutil
import sys
import time
import traceback
import warnings
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import run as bench  # noqa: E402

TASKS = bench.TASKS
SMALL_AREA = 480 * 272       # pixels per frame for the check (about 480x272), snapped to each model's grid
SMALL_FRAMES = 2             # frame_step * 2 + 1 frames: 9 for Wan, 17 for LTX-2
# Messages that mean weights did not land where the file says (diffusers, transformers, peft, our own checks).
KEY_WARNING = re.compile(r"unexpected key|missing key|were not used|not initiali[sz]ed|lora key|not found in the "
                         r"(base )?model|does not fit|drops|size mismatch|do not handle", re.IGNORECASE)
# peft's note that a target name also matched layers the file has no weights for (e.g. `proj_out` inside the VACE
# blocks): those adapters start with lora_B = 0, so fusing leaves the layers unchanged. Reported, not failed.
HARMLESS = re.compile(r"PEFT config contained these additional target modules")
GPU_NAMES = (("4090", "RTX 4090"), ("H200", "H200"), ("H100", "H100"), ("A100", "A100"), ("L40S", "L40S"),
             ("A10G", "A10G"), ("L4", "L4"))


# ------------------------------------------------------------------------------------------------- inputs


def make_inputs(folder: Path, args) -> dict[str, Path]:
    """Inputs the real models accept (pictures of at least 256 px, a face, speech); tiny mode uses the bench's."""
    if args.tiny:
        return bench.make_inputs(folder)
    from tests import factory

    folder.mkdir(parents=True, exist_ok=True)
    examples = ROOT / "assets" / "examples"
    return {
        "image": examples / "image_to_video" / "sunrise_first.png",
        "last_image": examples / "image_to_video" / "sunrise_last.png",
        "video": factory.video(folder / "source.mp4", seconds=2.0, fps=16, width=512, height=288, audio=True),
        "character": Path(args.character) if args.character else examples / "lip_sync" / "drawn_face.png",
        "skeleton": examples / "dance" / "side_step.mp4",
        "face": Path(args.portrait) if args.portrait else examples / "lip_sync" / "drawn_face.png",
        "speech": factory.wav(folder / "speech.wav", seconds=2.0),
    }


# ----------------------------------------------------------------------------------------------- one preset


def small(preset, frame_steps: int):
    """The preset at about SMALL_AREA pixels with few frames (same model, sampler, steps and guidance)."""
    d, lim = preset.defaults, preset.limits
    if preset.task == "lip_sync":
        return preset
    scale = min(1.0, (SMALL_AREA / (d.width * d.height)) ** 0.5)
    m = lim.size_multiple
    width, height = (max(m, round(d.width * scale / m) * m), max(m, round(d.height * scale / m) * m))
    frames = max(lim.min_frames, min(lim.max_frames, lim.frame_step * frame_steps + 1))
    call = dict(preset.call)
    if "segment_frame_length" in call:
        call["segment_frame_length"] = frames
    return replace(preset, defaults=replace(d, width=width, height=height, num_frames=frames), call=call)


@contextmanager
def preset_served(preset):
    from pipelines import presets

    table = presets.presets(preset.task)
    original = table[preset.key]
    table[preset.key] = preset
    try:
        yield
    finally:
        table[preset.key] = original


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@contextmanager
def collected_warnings():
    """Every log record of diffusers, transformers and peft (INFO and up: diffusers reports the LoRA keys it
    leaves out at INFO) and every Python warning; the libraries' own console handlers are quiet meanwhile."""
    handler = _Collect()
    loggers = [logging.getLogger(name) for name in ("diffusers", "transformers", "peft")]
    saved = [(lg.level, lg.handlers[:], lg.propagate) for lg in loggers]
    for lg in loggers:
        lg.handlers = [handler]
        lg.setLevel(logging.INFO)
        lg.propagate = False
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield handler.messages
        finally:
            handler.messages.extend(str(w.message) for w in caught)
            for lg, (level, handlers, propagate) in zip(loggers, saved):
                lg.handlers, lg.propagate = handlers, propagate
                lg.setLevel(level)


def gpu_name() -> str:
    import torch

    if not torch.cuda.is_available():
        return "RTX 4090"  # the estimator's reference GPU, for the figures beside a CPU run
    name = torch.cuda.get_device_name(0)
    return next((known for part, known in GPU_NAMES if part in name), "RTX 4090")


def estimated(module, plan, frames: int, gpu: str):
    parameters = inspect.signature(module.estimate).parameters
    if "num_frames" in parameters:
        return module.estimate(plan, frames, gpu=gpu)
    if "frames" in parameters:
        return module.estimate(plan, frames, gpu=gpu)
    return module.estimate(plan, gpu=gpu)


def check(task: str, key: str, files: dict[str, Path], out_dir: Path, frame_steps: int) -> dict:
    import torch

    from pipelines import presets, runtime, speed, store

    module = importlib.import_module(f"pipelines.{task}")
    preset = small(presets.get(task, key), frame_steps)
    row = {"task": task, "preset": key, "repo_id": preset.repo_id, "width": preset.defaults.width,
           "height": preset.defaults.height, "num_frames": preset.defaults.num_frames,
           "steps": preset.defaults.steps, "guidance_scale": preset.defaults.guidance_scale,
           "loras": [f"{lora['repo_id']}/{lora['weight_name']}" for lora in preset.loras]}
    cuda = torch.cuda.is_available()
    with preset_served(preset), collected_warnings() as messages:
        try:
            runtime.CACHE.clear()
            started = time.perf_counter()
            owner = bench.denoiser_owner(task, key)
            row["load_s"] = round(time.perf_counter() - started, 2)
            if cuda:
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
            request = bench.request(task, key, files)
            with speed.count_evaluations(owner) as counted:
                result = module.run(request)
            row["gpu_s"] = result.timings.get("gpu_s")
            row["peak_gpu_gb"] = round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else None
            row["evaluations"] = counted.calls
            plan = module.plan(request)
            guess = estimated(module, plan, len(result.frames), gpu_name())
            row["estimate"] = {"gpu": guess.gpu, "seconds": guess.seconds, "vram_gb": guess.vram_gb,
                               "evaluations": guess.evaluations, "profile": guess.profile}
            saved = store.save(result)
            video = out_dir / f"{task}--{key}.mp4"
            shutil.copyfile(saved.video, video)
            row["video"] = video.name
            row["frames_made"] = int(len(result.frames))
            row["error"] = None
        except Exception as exc:  # one preset's failure is reported; the others still run
            row["error"] = f"{type(exc).__name__}: {exc}"
            row["traceback"] = traceback.format_exc(limit=6)
    row["key_warnings"] = sorted({m for m in messages if KEY_WARNING.search(m) and not HARMLESS.search(m)})
    row["notes"] = sorted({m for m in messages if HARMLESS.search(m)})
    row["passed"] = row["error"] is None and not row["key_warnings"]
    runtime.CACHE.clear()
    return row


# ------------------------------------------------------------------------------------------------ reports


def html_report(rows: list[dict], meta: dict) -> str:
    def cell(value) -> str:
        return html.escape("" if value is None else str(value))

    lines = ["<!doctype html><meta charset='utf-8'><title>Video Studio GPU check</title>",
             "<style>body{font-family:sans-serif}td,th{border:1px solid #ccc;padding:4px;vertical-align:top}"
             "table{border-collapse:collapse}.fail{background:#fdd}.pass{background:#dfd}</style>",
             f"<h1>GPU check: {sum(r['passed'] for r in rows)} of {len(rows)} presets passed</h1>",
             f"<p>{cell(json.dumps(meta))}</p><table><tr><th>task / preset</th><th>size</th><th>load s</th>"
             "<th>GPU s (estimate)</th><th>peak GB (estimate)</th><th>passes (estimate)</th><th>warnings / error</th>"
             "<th>video</th></tr>"]
    for r in rows:
        est = r.get("estimate") or {}
        problems = "<br>".join(cell(m) for m in r["key_warnings"] + ([r["error"]] if r["error"] else []))
        video = f"<video src='{cell(r['video'])}' controls width='240'></video>" if r.get("video") else ""
        lines.append(
            f"<tr class='{'pass' if r['passed'] else 'fail'}'><td>{cell(r['task'])}<br><b>{cell(r['preset'])}</b>"
            f"<br>{cell(r['repo_id'])}</td><td>{r['width']}x{r['height']}x{r['num_frames']}, {r['steps']} steps</td>"
            f"<td>{cell(r.get('load_s'))}</td><td>{cell(r.get('gpu_s'))} ({cell(est.get('seconds'))})</td>"
            f"<td>{cell(r.get('peak_gpu_gb'))} ({cell(est.get('vram_gb'))})</td>"
            f"<td>{cell(r.get('evaluations'))} ({cell(est.get('evaluations'))})</td><td>{problems}</td>"
            f"<td>{video}</td></tr>")
    lines.append("</table>")
    return "\n".join(lines)


def selected(args) -> list[tuple[str, str]]:
    from pipelines import presets

    tasks = args.tasks.split(",") if args.tasks else list(TASKS)
    unknown = sorted(set(tasks) - set(TASKS))
    if unknown:
        raise SystemExit(f"Unknown tasks {unknown}; choose from: {', '.join(TASKS)}.")
    wanted = set(args.presets.split(",")) if args.presets else None
    pairs = [(task, key) for task in tasks for key in presets.presets(task)
             if wanted is None or key in wanted or f"{task}:{key}" in wanted]
    if not pairs:
        raise SystemExit("No preset matches --tasks / --presets (see python -m pipelines --list).")
    return pairs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", help="comma-separated tasks (default: all)")
    parser.add_argument("--presets", help="comma-separated preset keys or task:key (default: every preset)")
    parser.add_argument("--tiny", action="store_true", help="tiny models on the CPU (CI smoke run)")
    parser.add_argument("--out-dir", type=Path, default=Path("gpu_check"), help="where the reports and videos go")
    parser.add_argument("--json", type=Path, help="also write the JSON report here")
    parser.add_argument("--frames", type=int, default=SMALL_FRAMES, help="frames as multiples of the VAE stride")
    parser.add_argument("--character", help="a photo of a person for the dance check (default: a drawn figure)")
    parser.add_argument("--portrait", help="a portrait photo for the lip-sync check (default: a drawn face)")
    args = parser.parse_args(argv)
    if args.tiny:
        scratch = bench.smoke_mode()
    else:
        import torch

        if not torch.cuda.is_available():
            print("No CUDA GPU found: run on a GPU machine, or use --tiny for the CPU smoke run.", file=sys.stderr)
            return 2
        scratch = Path(os.environ.setdefault("STUDIO_OUTPUTS", str(args.out_dir.resolve() / "outputs"))).parent
    args.out_dir.mkdir(parents=True, exist_ok=True)
    pairs = selected(args)
    started = time.perf_counter()
    files = make_inputs(Path(scratch) / "check-inputs", args)
    rows = []
    for task, key in pairs:
        print(f"checking {task}:{key}", file=sys.stderr)
        rows.append(check(task, key, files, args.out_dir, args.frames))
        print(f"  {'passed' if rows[-1]['passed'] else 'FAILED'}: {rows[-1]['error'] or ''}", file=sys.stderr)
    import torch

    meta = {"tiny": args.tiny, "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
            "seconds": round(time.perf_counter() - started, 1), "versions": _versions()}
    report = {"meta": meta, "passed": all(r["passed"] for r in rows), "presets": rows}
    text = json.dumps(report, indent=2)
    (args.out_dir / "report.json").write_text(text + "\n", encoding="utf-8")
    (args.out_dir / "report.html").write_text(html_report(rows, meta), encoding="utf-8")
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    print(f"{sum(r['passed'] for r in rows)} of {len(rows)} presets passed; report: {args.out_dir / 'report.html'}",
          file=sys.stderr)
    return 0 if report["passed"] else 1


def _versions() -> dict:
    from importlib.metadata import version

    return {name: version(name) for name in ("torch", "diffusers", "transformers", "peft")}


if __name__ == "__main__":
    sys.exit(main())
