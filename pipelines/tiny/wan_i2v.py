"""Tiny Wan image-to-video pipelines (2.1 FLF2V and 2.2 I2V A14B layouts) and a tiny Lightning LoRA.

They reuse the tiny UMT5 text encoder, VAE and transformer of `pipelines/tiny/wan.py`; what is new here is the
image side: the 36-channel I2V transformer (16 noise + 4 mask + 16 condition latents), the CLIP vision encoder
and image processor of Wan 2.1, the two-expert layout of Wan 2.2, and a LoRA file with the key names of the
real Lightning files (original Wan names, `lora_down`/`lora_up`/`alpha`), so `load_lora_weights` goes through
the same key conversion it applies to the real files.
"""

from __future__ import annotations

from pathlib import Path

from pipelines.tiny import wan
from pipelines.tiny.tokenizer import t5_tokenizer

CLIP_DIM = 16
CLIP_IMAGE = 32
CLIP_PATCH = 8
I2V_CHANNELS = 36   # noise latents (16) + frame mask (4 = the VAE's temporal stride) + condition latents (16)
LATENT_CHANNELS = 16

LIGHTNING_FILE = "pytorch_lora_weights.safetensors"  # the name runtime.lora_source reads for tiny LoRAs
LIGHTNING_RANK = 8
LIGHTNING_ALPHA = 1.0   # below the rank, so the alpha / rank rescaling on loading is exercised


def image_encoder():
    import torch
    from transformers import CLIPVisionConfig, CLIPVisionModel

    torch.manual_seed(0)
    config = CLIPVisionConfig(hidden_size=CLIP_DIM, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2,
                              image_size=CLIP_IMAGE, patch_size=CLIP_PATCH)
    return CLIPVisionModel(config).eval()


def image_processor():
    from transformers import CLIPImageProcessor

    # The real processor resizes the short side to 224 and centre-crops 224x224; the tiny one does the same at 32.
    return CLIPImageProcessor(size={"shortest_edge": CLIP_IMAGE}, crop_size={"height": CLIP_IMAGE, "width": CLIP_IMAGE})


def flf2v(path: Path) -> None:
    """Layout of Wan-AI/Wan2.1-FLF2V-14B-720P-diffusers: one transformer that also attends to the CLIP features of
    both frames (image_dim, added_kv_proj_dim) with a learned position embedding for two images' tokens."""
    from diffusers import WanImageToVideoPipeline

    tokens_per_image = (CLIP_IMAGE // CLIP_PATCH) ** 2 + 1  # patches + class token (257 for the real ViT-H/14)
    transformer = wan.transformer(I2V_CHANNELS, out_channels=LATENT_CHANNELS, image_dim=CLIP_DIM,
                                  added_kv_proj_dim=24, pos_embed_seq_len=2 * tokens_per_image)
    pipe = WanImageToVideoPipeline(
        tokenizer=t5_tokenizer(), text_encoder=wan.text_encoder(), vae=wan.vae(wan22=False),
        scheduler=wan.scheduler(16.0), image_processor=image_processor(), image_encoder=image_encoder(),
        transformer=transformer,
    )
    pipe.save_pretrained(path)


def a14b(path: Path) -> None:
    """Layout of Wan-AI/Wan2.2-I2V-A14B-Diffusers: a high-noise and a low-noise expert, no CLIP encoder; the
    first (and last) frame reach the model only through the VAE latents and the frame mask."""
    from diffusers import WanImageToVideoPipeline

    high = wan.transformer(I2V_CHANNELS, out_channels=LATENT_CHANNELS)
    low = wan.transformer(I2V_CHANNELS, out_channels=LATENT_CHANNELS)
    pipe = WanImageToVideoPipeline(
        tokenizer=t5_tokenizer(), text_encoder=wan.text_encoder(), vae=wan.vae(wan22=False),
        scheduler=wan.scheduler(5.0), transformer=high, transformer_2=low, boundary_ratio=0.9,
    )
    pipe.save_pretrained(path)


def lightning_lora(path: Path) -> None:
    """Stand-in for the Wan 2.2 I2V Lightning Seko-V1 files (one per expert in the real repo; the tiny experts
    share this one): original Wan key names, lora_down / lora_up / alpha for attention and feed-forward layers."""
    from pipelines.tiny import wan_lora

    reference = wan.transformer(I2V_CHANNELS, out_channels=LATENT_CHANNELS)
    wan_lora.save(wan_lora.state_dict(reference, rank=LIGHTNING_RANK, alpha=LIGHTNING_ALPHA, distill_extras=False),
                  Path(path) / LIGHTNING_FILE)
