"""The distill LoRA files in the real files' layout (original Wan key names) go through the same conversion the
real files do, land on every layer they name, and a file whose weights would not all arrive is refused."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from pipelines import lora_files, presets, runtime, speed, tiny

T2V_FAST = "wan2.2-t2v-a14b-4step"
I2V_FAST = "wan2.2-i2v-a14b-lightning"


def tiny_file(task: str, key: str) -> tuple[Path, dict]:
    preset = presets.get(task, key)
    folder, name = runtime.lora_source(preset, preset.loras[0])
    path = Path(folder) / name
    return path, load_file(str(path))


def test_the_tiny_distill_files_use_the_original_wan_key_names():
    _, distill = tiny_file("text_to_video", T2V_FAST)
    assert all(key.startswith("diffusion_model.") for key in distill)
    for suffix in (".lora_down.weight", ".lora_up.weight", ".diff_b", "norm_q.diff", "head.head.diff",
                   "head.head.diff_b", "time_projection.1.lora_down.weight", "text_embedding.0.lora_up.weight"):
        assert any(key.endswith(suffix) for key in distill), suffix
    _, lightning = tiny_file("image_to_video", I2V_FAST)
    assert "diffusion_model.blocks.0.self_attn.q.alpha" in lightning
    assert not any(key.endswith(".diff_b") for key in lightning)


def test_fusing_runs_the_wan_key_conversion_and_changes_every_layer_the_file_names(monkeypatch):
    from diffusers.loaders import lora_conversion_utils, lora_pipeline

    converted = []
    real_convert = lora_conversion_utils._convert_non_diffusers_wan_lora_to_diffusers
    monkeypatch.setattr(lora_pipeline, "_convert_non_diffusers_wan_lora_to_diffusers",
                        lambda state: converted.append(len(state)) or real_convert(state))
    preset = presets.get("text_to_video", T2V_FAST)
    base = runtime.pipeline(replace(preset, key="no-lora", loras=()))
    fused = runtime.pipeline(replace(preset, key="lora-probe"))
    _, raw = tiny_file("text_to_video", T2V_FAST)
    assert converted and converted[0] == len(raw)
    for name in ("transformer", "transformer_2"):
        before, after = getattr(base, name), getattr(fused, name)
        q_bias_delta = raw["diffusion_model.blocks.0.self_attn.q.diff_b"]
        assert torch.allclose(after.blocks[0].attn1.to_q.bias, before.blocks[0].attn1.to_q.bias + q_bias_delta,
                              atol=1e-5)
        head = raw["diffusion_model.head.head.diff"]
        assert torch.allclose(after.proj_out.weight, before.proj_out.weight + head, atol=1e-5)
        assert not torch.equal(after.condition_embedder.time_proj.weight, before.condition_embedder.time_proj.weight)
        assert not torch.equal(after.blocks[1].ffn.net[2].weight, before.blocks[1].ffn.net[2].weight)
    runtime.CACHE.clear()


def _tampered(tmp_path, change) -> tuple[str, str]:
    _, raw = tiny_file("text_to_video", T2V_FAST)
    change(raw)
    save_file(raw, str(tmp_path / "tampered.safetensors"))
    return str(tmp_path), "tampered.safetensors"


@pytest.mark.parametrize("change, words", [
    (lambda raw: raw.update({"diffusion_model.blocks.0.cross_attn.k_img.lora_down.weight": torch.ones(4, 24),
                             "diffusion_model.blocks.0.cross_attn.k_img.lora_up.weight": torch.ones(24, 4),
                             "diffusion_model.blocks.0.cross_attn.v_img.lora_down.weight": torch.ones(4, 24),
                             "diffusion_model.blocks.0.cross_attn.v_img.lora_up.weight": torch.ones(24, 4)}),
     "has no such layer"),
    (lambda raw: raw.update({"diffusion_model.blocks.0.self_attn.norm_q.diff": torch.ones(24)}), "drops"),
    (lambda raw: raw.update({"diffusion_model.blocks.0.modulation.diff": torch.ones(1, 6, 24)}), "drops"),
    (lambda raw: raw.pop("diffusion_model.blocks.1.ffn.0.lora_up.weight"), "lora_B is missing"),
    (lambda raw: raw.update({"diffusion_model.blocks.0.ffn.2.lora_up.weight": torch.ones(7, 4)}), "does not fit"),
])
def test_a_file_whose_weights_would_not_all_arrive_is_refused(tmp_path, change, words):
    pipe = runtime.pipeline(presets.get("text_to_video", T2V_FAST))
    folder, name = _tampered(tmp_path, change)
    with pytest.raises(lora_files.LoraMismatch, match=words) as raised:
        lora_files.read_checked(pipe, folder, name, "transformer")
    assert "tampered.safetensors" in str(raised.value) and str(tmp_path) not in str(raised.value)
    preset = presets.get("text_to_video", T2V_FAST)
    with pytest.raises(lora_files.LoraMismatch):  # the loading path itself refuses it
        speed.fuse_loras(pipe, replace(preset, loras=preset.loras[:1]), lambda lora: (folder, name))
    runtime.CACHE.clear()


def test_zero_norm_deltas_are_the_only_keys_allowed_to_be_dropped():
    _, raw = tiny_file("text_to_video", T2V_FAST)
    dropped = lora_files.dropped_by_conversion(raw)
    assert dropped and all(".norm_" in key and key.endswith(".diff") for key in dropped)
    assert all(not raw[key].any() for key in dropped)


# ------------------------------------------------------------------------------------------- MuseTalk unet.pth


def test_musetalk_unet_pth_holds_the_plain_unet_names_and_a_mismatch_is_refused(tmp_path, monkeypatch):
    """MuseTalk musetalk/models/unet.py: UNet2DConditionModel(**musetalk.json).load_state_dict(torch.load(unet.pth)),
    so the file's keys are the diffusers UNet's own names, no prefix."""
    import shutil

    from pipelines import lip_sync

    preset = presets.get(lip_sync.TASK, None)
    source = tiny.build(preset.tiny_builder)
    weights = torch.load(source / lip_sync.UNET_WEIGHTS, weights_only=True)
    assert "conv_in.weight" in weights and any(k.startswith("down_blocks.0.attentions.0.") for k in weights)
    assert not any(k.startswith(("unet.", "model.", "module.")) for k in weights)

    tampered = tmp_path / "musetalk"
    shutil.copytree(source, tampered)
    weights["model.extra.weight"] = weights.pop("conv_in.weight")
    torch.save(weights, tampered / lip_sync.UNET_WEIGHTS)
    real_folder = runtime.hub_folder
    monkeypatch.setattr(runtime, "hub_folder", lambda repo_id, builder, allow_patterns=None:
                        tampered if builder == preset.tiny_builder else real_folder(repo_id, builder, allow_patterns))
    with pytest.raises(ValueError, match=r"1 missing \(e.g. conv_in.weight\); 1 unexpected \(e.g. model.extra") as e:
        lip_sync._load(preset)
    assert str(tmp_path) not in str(e.value)
