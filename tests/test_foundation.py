"""The studio's shape: lazy imports, UI/model separation, loading, the Hub, the cache, MP4 output."""

from __future__ import annotations

import ast
import os
import subprocess
import sys

import numpy as np
import pytest

from pipelines import media, presets, runtime, store
from tests.conftest import ROOT
from tests.video_checks import probe


def test_importing_the_app_loads_neither_torch_nor_diffusers():
    code = "import sys, app; print(sorted(m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "STUDIO_TINY": "1"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def _imported_modules(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def test_pipelines_never_import_gradio_and_tabs_never_import_torch_at_top_level():
    for path in (ROOT / "pipelines").rglob("*.py"):
        assert not any(m.split(".")[0] == "gradio" for m in _imported_modules(path)), path
    for path in list((ROOT / "tabs").glob("*.py")) + [ROOT / "app.py"]:
        top_level = ast.parse(path.read_text(encoding="utf-8")).body
        names = [a.name for n in top_level if isinstance(n, ast.Import) for a in n.names]
        names += [n.module for n in top_level if isinstance(n, ast.ImportFrom) and n.module]
        assert not any(n.split(".")[0] in {"torch", "diffusers", "transformers"} for n in names), path


def test_a_repo_id_and_a_tiny_folder_load_through_the_same_code(monkeypatch):
    """The real preset (repo id) is loaded by the same function; only the download is swapped for a folder."""
    import diffusers
    import torch

    tiny_preset = presets.get("text_to_video", "wan2.1-t2v-1.3b")
    folder = runtime.model_source(tiny_preset)
    assert (folder / "model_index.json").exists() and (folder / "transformer" / "config.json").exists()

    asked = []

    def fake_download(repo_id, **kwargs):
        asked.append(repo_id)
        return str(folder)

    monkeypatch.setattr(diffusers.WanPipeline, "download", fake_download)
    monkeypatch.setattr(runtime, "compute_dtype", lambda: torch.bfloat16)  # as on a GPU
    real_preset = presets._load("text_to_video", False)["wan2.1-t2v-1.3b"]
    assert not real_preset.tiny and real_preset.repo_id == "Wan-AI/Wan2.1-T2V-1.3B-Diffusers"
    pipe = runtime.pipeline(real_preset)
    assert asked == ["Wan-AI/Wan2.1-T2V-1.3B-Diffusers"]
    assert type(pipe).__name__ == "WanPipeline"
    assert pipe.transformer.dtype == torch.bfloat16
    assert pipe.vae.dtype == torch.float32  # the preset's VAE precision reached from_pretrained


def test_a_modular_preset_is_loaded_as_a_modular_pipeline(monkeypatch):
    class Loaded(Exception):
        pass

    def modular(preset, pipeline_class):
        raise Loaded(preset.key, pipeline_class.__name__)

    monkeypatch.setattr(runtime, "_modular_pipeline", modular)
    real = presets._load("dance", False)["wan2.2-animate-2-14b-distilled"]
    with pytest.raises(Loaded) as caught:
        runtime.pipeline(real)
    assert caught.value.args == (real.key, real.pipeline_class)
    runtime.CACHE.clear()


def test_hub_unreachable_names_the_repo_and_how_to_run_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    real_preset = presets._load("text_to_video", False)["wan2.2-ti2v-5b"]
    with pytest.raises(runtime.HubUnavailable) as caught:
        runtime.model_source(real_preset)
    message = str(caught.value)
    assert message.startswith("Could not download the model Wan-AI/Wan2.2-TI2V-5B-Diffusers from the Hugging Face Hub")
    assert message.endswith("Check the network, or download it once with `hf download Wan-AI/Wan2.2-TI2V-5B-Diffusers` "
                            "and run with HF_HUB_OFFLINE=1; to try the app with no network at all, run it in smoke "
                            "mode: `STUDIO_TINY=1 python app.py` (tiny untrained models).")


def test_single_files_and_lora_files_come_from_the_hub_repo_that_names_them(monkeypatch, tmp_path):
    import huggingface_hub

    asked = []

    def download(repo_id, filename, **kwargs):
        asked.append((repo_id, filename, kwargs))
        return str(tmp_path / filename)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
    monkeypatch.setenv("HF_TOKEN", "hf_x")
    assert runtime.fetch_file("owner/detectors", "yolo.onnx", repo_type="dataset") == tmp_path / "yolo.onnx"
    real = presets._load("text_to_video", False)["wan2.2-t2v-a14b-4step"]
    lora = real.loras[0]
    assert runtime.lora_source(real, lora) == (str(tmp_path), lora["weight_name"])
    assert asked == [("owner/detectors", "yolo.onnx", {"repo_type": "dataset", "token": "hf_x"}),
                     (lora["repo_id"], lora["weight_name"], {"repo_type": "model", "token": "hf_x"})]


def test_a_modular_pipeline_loads_its_components_in_the_compute_dtype(monkeypatch):
    import torch

    loaded = []

    class Modular:
        @classmethod
        def from_pretrained(cls, source):
            loaded.append(source)
            return cls()

        def load_components(self, dtype):
            loaded.append(dtype)

    monkeypatch.setattr(runtime, "compute_dtype", lambda: torch.bfloat16)  # as on a GPU
    real = presets._load("dance", False)["wan2.2-animate-2-14b-distilled"]
    runtime._modular_pipeline(real, Modular)
    assert loaded == [real.repo_id, torch.bfloat16]


@pytest.mark.parametrize("status, error, words", [
    (403, "GatedRepoError", ["is gated: accept its license on huggingface.co/Wan-AI/Wan2.2-TI2V-5B-Diffusers",
                             "set HF_TOKEN to a token of that account"]),
    (404, "RepositoryNotFoundError", ["Wan-AI/Wan2.2-TI2V-5B-Diffusers was not found on the Hugging Face Hub",
                                      "check the repo id, or set HF_TOKEN"]),
])
def test_a_gated_or_missing_model_says_what_to_do_about_it(monkeypatch, status, error, words):
    import diffusers
    import httpx
    from huggingface_hub import errors

    refusal = httpx.Response(status, request=httpx.Request("GET", "https://huggingface.co/api/models/x"))

    def download(repo_id, **kwargs):
        raise getattr(errors, error)(f"{status} for {repo_id}", response=refusal)

    monkeypatch.setattr(diffusers.WanPipeline, "download", download)
    with pytest.raises(runtime.HubUnavailable) as caught:
        runtime.model_source(presets._load("text_to_video", False)["wan2.2-ti2v-5b"])
    assert all(w in str(caught.value) for w in words), str(caught.value)


def test_hub_down_with_network_on_gives_the_same_clear_message():
    """A Hub endpoint that refuses connections (a closed local port) must not crash or hang."""
    code = ("from pipelines import presets, runtime\n"
            "p = presets._load('text_to_video', False)['wan2.1-t2v-1.3b']\n"
            "try:\n    runtime.model_source(p)\nexcept runtime.HubUnavailable as e:\n    print('CLEAR', e)\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "0", "HF_ENDPOINT": "http://127.0.0.1:9", "HF_HUB_ETAG_TIMEOUT": "2",
           "HF_HUB_DOWNLOAD_TIMEOUT": "2", "HF_HOME": str(ROOT / ".pytest-hf-home-unused")}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert "CLEAR" in out.stdout, out.stderr[-2000:]
    assert "Wan-AI/Wan2.1-T2V-1.3B-Diffusers" in out.stdout


def test_sizes_follow_the_aspect_and_snap_to_the_model_grid():
    real = presets._load("text_to_video", False)
    assert real["wan2.1-t2v-1.3b"].size_for_aspect(16 / 9) == (832, 480)
    assert real["wan2.1-t2v-1.3b"].size_for_aspect(9 / 16) == (480, 832)
    width, height = real["wan2.2-ti2v-5b"].size_for_aspect(1.0)
    assert width == height and width % 32 == 0
    assert real["wan2.2-ti2v-5b"].valid_frames(50) == 49 and real["wan2.2-ti2v-5b"].valid_frames(1000) == 121


def test_mp4_is_h264_yuv420p_at_the_given_fps_with_metadata_and_audio(tmp_path):
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (10, 48, 64, 3), dtype=np.uint8)
    tone = np.sin(np.linspace(0, 2 * np.pi * 440, 16000)).astype(np.float32) * 0.3
    path = media.write_mp4(tmp_path / "a.mp4", frames, 10, audio=tone, metadata={"seed": 7, "prompt": "猫"})
    facts = probe(path)
    assert (facts.codec, facts.pix_fmt, facts.fps) == ("h264", "yuv420p", 10.0)
    assert facts.frames.shape == (10, 48, 64, 3)
    assert abs(facts.audio_seconds - 1.0) < 0.1
    assert media.read_metadata(path) == {"seed": 7, "prompt": "猫"}


def test_every_result_gets_its_own_unguessable_directory():
    ids = {store.new_result_dir()[0] for _ in range(50)}
    assert len(ids) == 50 and all(len(i) >= 22 for i in ids)


def test_work_that_belongs_outside_the_gpu_window_is_flagged_inside_it(tmp_path):
    runtime.STATS.reset()

    @runtime.gpu_task(duration=1)
    def encode_inside():
        media.write_mp4(tmp_path / "x.mp4", np.zeros((2, 16, 16, 3), np.uint8), 8)

    encode_inside()
    assert runtime.STATS.violations == ["encode"] and runtime.STATS.calls == 1
    runtime.STATS.reset()
