"""The GPU acceptance command in its smoke mode: the same code path on the tiny models, so it cannot rot. Here the
presets with single-file checkpoints (distill LoRAs, MuseTalk's unet.pth); .ci/run runs every preset the same way."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SINGLE_FILES = ["wan2.2-t2v-a14b-4step", "stylize_video:wan2.1-vace-14b-4step", "musetalk-1.5"]


def test_gpu_check_smoke_run_reports_each_preset_with_measured_and_estimated_figures(tmp_path):
    out = tmp_path / "out.json"
    done = subprocess.run([sys.executable, "bench/gpu_check.py", "--tiny", "--json", str(out), "--out-dir",
                           str(tmp_path / "report"), "--presets", ",".join(SINGLE_FILES)],
                          cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    rows = {row["preset"]: row for row in report["presets"]}
    assert report["passed"] and sorted(row["task"] for row in rows.values()) == sorted(
        ["text_to_video", "stylize_video", "lip_sync"])
    for row in rows.values():
        assert row["load_s"] > 0 and row["gpu_s"] > 0 and row["key_warnings"] == [] and row["error"] is None
        assert (tmp_path / "report" / row["video"]).stat().st_size > 0
        assert set(row["estimate"]) >= {"seconds", "vram_gb", "evaluations"}
    for key in ("wan2.2-t2v-a14b-4step", "wan2.1-vace-14b-4step"):
        assert rows[key]["evaluations"] == rows[key]["estimate"]["evaluations"], key
    assert rows["wan2.2-t2v-a14b-4step"]["loras"]  # the real-format LoRA files went through the loading path
    assert rows["wan2.1-vace-14b-4step"]["notes"]  # peft's extra-target note is reported, not hidden
    page = (tmp_path / "report" / "report.html").read_text()
    assert "3 of 3 presets passed" in page and "<video" in page


def test_a_key_warning_fails_the_preset():
    from bench import gpu_check

    assert gpu_check.KEY_WARNING.search("Loading adapter weights from state_dict led to unexpected keys: x")
    assert gpu_check.KEY_WARNING.search("The remaining `state_dict` contains `diff` keys which we do not handle yet")
    assert gpu_check.KEY_WARNING.search("The LoRA file a.safetensors does not fit the transformer: ...")
    assert not gpu_check.KEY_WARNING.search("placed wan2.2-ti2v-5b with the gpu profile")


def test_the_estimate_beside_the_measured_figures_is_for_the_gpu_the_check_ran_on():
    from bench import gpu_check
    from pipelines import text_to_video as t2v

    plan = t2v.plan(t2v.Request(prompt="a lighthouse", preset="wan2.2-ti2v-5b", num_frames=17))
    plan = dataclasses.replace(plan, width=1280, height=704, num_frames=121)  # the real size, not the tiny one
    slow, fast = (gpu_check.estimated(t2v, plan, 17, gpu) for gpu in ("L4", "H100"))
    assert (slow.gpu, fast.gpu) == ("L4", "H100")
    assert slow.seconds > 2 * fast.seconds  # an L4 is several times slower than an H100
