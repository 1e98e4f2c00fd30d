"""The command line (`python -m pipelines`) on tiny models: same frames as the API, batch jobs, errors, --list."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from pipelines import cli, media, presets
from tests.video_checks import probe

ROOT = Path(__file__).resolve().parent.parent


def studio(*args: str) -> subprocess.CompletedProcess:
    """Run the command line as a user would; the session's tiny models and outputs folder are reused."""
    return subprocess.run([sys.executable, "-m", "pipelines", *args], cwd=ROOT, env=dict(os.environ),
                          capture_output=True, text=True, timeout=180)


@dataclass(frozen=True)
class FakeRequest:
    image: str | Path
    count: int | None = None
    strength: float = 0.5
    loop: bool = False


FAKE = types.ModuleType("pipelines.fake", "Fake task: for the tests.")
FAKE.TASK, FAKE.Request, FAKE.run = "fake", FakeRequest, None


def test_the_command_line_makes_the_same_frames_as_the_api(client, tmp_path):
    out = tmp_path / "fox.mp4"
    run = studio("text_to_video", "--prompt", "a red fox in snow", "--seed", "21", "--num-frames", "9",
                 "--out", str(out))
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == str(out)
    from_api, _, seed = client.predict(prompt="a red fox in snow", seed=21, num_frames=9, api_name="/text_to_video")
    cli_video, api_video = probe(out), probe(from_api)
    assert seed == 21 and len(cli_video.frames) == 9 and cli_video.fps == api_video.fps
    assert np.array_equal(cli_video.frames, api_video.frames)
    assert media.read_metadata(out)["settings"]["seed"] == 21


def test_a_jobs_file_makes_every_good_job_and_reports_the_bad_line(tmp_path):
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text("\n".join(json.dumps(job) for job in [
        {"task": "text_to_video", "prompt": "a lighthouse at night", "seed": 5, "num_frames": 5},
        {"task": "text_to_video", "prompt": "", "seed": 6},
        {"task": "text_to_video", "prompt": "a paper boat", "seed": 7, "num_frames": 5, "aspect": "1:1"},
    ]) + "\n", encoding="utf-8")
    run = studio("--jobs", str(jobs), "--out-dir", str(tmp_path / "videos"))
    assert run.returncode == 1, run.stderr
    assert "line 2: The prompt is empty" in run.stderr
    videos = sorted((tmp_path / "videos").glob("*.mp4"))
    assert [v.name for v in videos] == ["001-text_to_video-seed5.mp4", "003-text_to_video-seed7.mp4"]
    settings = [media.read_metadata(v)["settings"] for v in videos]
    assert [(s["seed"], s["prompt"], s["aspect"]) for s in settings] == [
        (5, "a lighthouse at night", "16:9"), (7, "a paper boat", "1:1")]
    assert [len(probe(v).frames) for v in videos] == [5, 5]


def test_a_bad_command_exits_2_with_the_pipelines_message():
    run = studio("text_to_video", "--prompt", "a cat", "--num-frames", "400")
    assert run.returncode == 2
    assert run.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "400 were asked for" in run.stderr and "Traceback" not in run.stderr
    assert run.stdout == ""


def test_an_unreachable_hub_exits_3_with_its_message(monkeypatch, capsys):
    """The task's run() is patched to fail as runtime.hub_errors does when a download fails."""
    from pipelines import runtime

    def run(request, progress):
        raise runtime.HubUnavailable(f"Could not download the model for {request.image} from the Hugging Face Hub.")

    monkeypatch.setattr(FAKE, "run", run)
    monkeypatch.setattr(cli, "discover", lambda: {"fake": FAKE})
    assert cli.main(["fake", "--image", "portrait.png"]) == 3
    assert capsys.readouterr().err == "error: Could not download the model for portrait.png from the Hugging Face Hub.\n"


def test_list_names_the_tasks_and_their_presets():
    run = studio("--list")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert any(line.startswith("text_to_video: ") for line in lines)
    listed = {line.split()[0] for line in lines if line.startswith("  ")}
    assert set(presets.presets("text_to_video")) <= listed


def test_options_come_from_any_tasks_request_fields():
    """A task the command line has never seen gets its options from its Request dataclass alone."""
    parser = cli.build_parser({"fake": FAKE})
    args = parser.parse_args(["fake", "--image", "a.png", "--count", "3", "--strength", "0.25", "--loop"])
    assert (args.image, args.count, args.strength, args.loop) == ("a.png", 3, 0.25, True)
    unset = parser.parse_args(["fake", "--image", "a.png", "--no-loop"])
    assert not hasattr(unset, "count") and unset.loop is False  # unset options keep the Request's defaults


def test_job_lines_are_read_with_the_same_fields():
    _, fields, out = cli.parse_job('{"task": "fake", "image": "b.png", "count": "4", "loop": true, "out": "b.mp4"}',
                                   {"fake": FAKE})
    assert fields == {"image": "b.png", "count": 4, "loop": True} and out == "b.mp4"


@pytest.mark.parametrize("line, words", [
    ('{"task": "fake"}', "needs 'image'"),
    ('{"task": "fake", "image": "x", "size": 2}', "no setting 'size'"),
    ('{"task": "fake", "image": "x", "count": "many"}', "count must be int"),
    ('{"task": "slow_motion"}', "unknown task 'slow_motion'"),
    ('{"task": "fake",', "not valid JSON"),
    ('["fake"]', "must be a JSON object"),
])
def test_bad_job_lines_say_what_is_wrong(line, words):
    with pytest.raises(ValueError, match=re.escape(words)):
        cli.parse_job(line, {"fake": FAKE})


def test_a_jobs_file_with_the_hub_unreachable_exits_3_naming_the_model(monkeypatch, tmp_path, capsys):
    """Real presets (not the tiny ones) with the Hub offline: nothing can be downloaded, and the exit code says so."""
    monkeypatch.delenv("STUDIO_TINY")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(json.dumps({"task": "text_to_video", "prompt": "a lighthouse at night", "seed": 5}) + "\n",
                    encoding="utf-8")
    assert cli.main(["--jobs", str(jobs)]) == 3
    err = capsys.readouterr().err
    assert "line 1:" in err and presets.get("text_to_video", None).repo_id in err
    assert "Traceback" not in err
