"""The README's promises: its two set-up commands, and its API snippet run as written against the app."""

from __future__ import annotations

import re
import shutil

from pipelines import media
from tests import factory
from tests.conftest import ROOT
from tests.video_checks import probe

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_readme_starts_with_two_set_up_commands_that_ci_runs():
    first_block = re.search(r"```bash\n(.*?)```", README, re.S).group(1)
    commands = [line.split("#")[0].strip() for line in first_block.strip().splitlines()]
    assert len(commands) == 2 and "python app.py" in commands[0]
    test_command = commands[1].split("&&")[-1].strip()
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert test_command in ci.splitlines()[-1]  # CI ends by running exactly the README's test command


def test_the_api_snippet_runs_as_written(server_url, tmp_path, monkeypatch):
    snippet = re.search(r"## API.*?```python\n(.*?)```", README, re.S).group(1)
    assert snippet.count("api_name=") == 5  # one call per tab
    monkeypatch.chdir(tmp_path)
    factory.image(tmp_path / "first.png", 96, 64, seed=1)
    factory.image(tmp_path / "last.png", 96, 64, seed=2)
    factory.video(tmp_path / "clip.mp4", seconds=1.0, fps=8, audio=True)
    factory.face(tmp_path / "character.png", 64, 96)
    shutil.copyfile(ROOT / "assets" / "examples" / "dance" / "arm_wave.mp4", tmp_path / "dance.mp4")
    factory.face(tmp_path / "portrait.png", 96, 96)
    factory.wav(tmp_path / "speech.wav", seconds=1.0)
    namespace: dict = {}
    exec(snippet.replace("http://127.0.0.1:7860/", server_url), namespace)  # noqa: S102 - our own README
    assert media.read_metadata(namespace["video"])["settings"]["seed"] == 4  # the last call: lip-sync
    assert probe(namespace["video"]).fps == 25 and "share link" in namespace["info"]
    assert probe(namespace["skeleton"]).frames.shape[0] > 0 and probe(namespace["control"]).frames.shape[0] > 0
