"""Tiny stand-ins for the dance tab: Wan Animate and its relighting LoRA (Wan VACE: tiny/vace.py; the
preprocessing ONNX files: tiny/wholebody.py).

Each is the real class with a small config, saved in the Hub layout (or the file format) the real repo uses.
"""

from __future__ import annotations

from pathlib import Path

from pipelines.tiny import wan
from pipelines.tiny.tokenizer import t5_tokenizer

FACE_SIZE = 16          # the motion encoder's face crop size (512 in the real model)
CLIP_DIM = 8


def _clip_parts():
    import torch
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel

    torch.manual_seed(0)
    config = CLIPVisionConfig(hidden_size=CLIP_DIM, projection_dim=CLIP_DIM, num_hidden_layers=2,
                              num_attention_heads=2, image_size=16, intermediate_size=16, patch_size=4)
    return CLIPVisionModel(config).eval(), CLIPImageProcessor(crop_size=16, size=16)


def _animate_transformer():
    import torch
    from diffusers import WanAnimateTransformer3DModel

    torch.manual_seed(0)
    # Small motion-encoder channels, or it would hold nearly all of the tiny model's weights.
    return WanAnimateTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=36, latent_channels=16,
        out_channels=16, text_dim=wan.TEXT_DIM, freq_dim=256, ffn_dim=32, num_layers=2, cross_attn_norm=True,
        qk_norm="rms_norm_across_heads", image_dim=CLIP_DIM, rope_max_seq_len=32,
        motion_encoder_channel_sizes={"4": 16, "8": 16, "16": 16}, motion_encoder_size=FACE_SIZE,
        motion_style_dim=8, motion_dim=4, motion_encoder_dim=16, face_encoder_hidden_dim=16,
        face_encoder_num_heads=2, inject_face_latents_blocks=2,
    )


def animate(path: Path) -> None:
    """Layout of Wan-AI/Wan2.2-Animate-14B-Diffusers (UniPC with flow shift 5, Wan 2.1 VAE, CLIP image encoder)."""
    from diffusers import WanAnimatePipeline

    image_encoder, image_processor = _clip_parts()
    pipe = WanAnimatePipeline(tokenizer=t5_tokenizer(), text_encoder=wan.text_encoder(), vae=wan.vae(wan22=False),
                              scheduler=wan.scheduler(5.0), image_processor=image_processor,
                              image_encoder=image_encoder, transformer=_animate_transformer())
    pipe.save_pretrained(path)


# The tiny transformer's Linear layers inside its blocks under the original Wan names (the names of
# Wan-AI/Wan2.2-Animate-14B's relighting_lora.ckpt: a peft state dict of the original model).
ORIGINAL_NAMES = {"attn1.to_q": "self_attn.q", "attn1.to_k": "self_attn.k", "attn1.to_v": "self_attn.v",
                  "attn1.to_out.0": "self_attn.o", "attn2.to_q": "cross_attn.q", "attn2.to_k": "cross_attn.k",
                  "attn2.to_v": "cross_attn.v", "attn2.to_out.0": "cross_attn.o", "ffn.net.0.proj": "ffn.0",
                  "ffn.net.2": "ffn.2"}
RELIGHTING_RANK = 4   # 128 in the real file


def relighting_lora(path: Path) -> None:
    """Layout and format of Wan-AI/Wan2.2-Animate-14B/relighting_lora.ckpt: a torch file {"state_dict": ...}
    holding peft LoRA weights "blocks.{i}.self_attn.q.lora_A.weight" (rank x in) and "...lora_B.weight"
    (out x rank) for every Linear in the blocks except the face adapter and modulation (Wan2.2
    wan/modules/animate/animate_utils.py get_loraconfig, loaded by wan/animate.py)."""
    import torch

    torch.manual_seed(0)
    state = {}
    for name, module in _animate_transformer().named_modules():
        if not (name.startswith("blocks.") and isinstance(module, torch.nn.Linear)):
            continue
        _, index, local = name.split(".", 2)
        if local not in ORIGINAL_NAMES:
            continue
        original = f"blocks.{index}.{ORIGINAL_NAMES[local]}"
        state[f"{original}.lora_A.weight"] = torch.randn(RELIGHTING_RANK, module.in_features) * 0.1
        state[f"{original}.lora_B.weight"] = torch.randn(module.out_features, RELIGHTING_RANK) * 0.1
    path.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": state}, path / "relighting_lora.ckpt")
