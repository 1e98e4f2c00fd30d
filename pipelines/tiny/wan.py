"""Tiny Wan pipelines (2.1 T2V layout and 2.2 TI2V-5B layout) with the real classes and small configs."""

from __future__ import annotations

from pathlib import Path

from pipelines.tiny.tokenizer import t5_tokenizer

TEXT_DIM = 32


def text_encoder():
    import torch
    from transformers import UMT5Config, UMT5EncoderModel

    torch.manual_seed(0)
    config = UMT5Config(
        vocab_size=256, d_model=TEXT_DIM, d_kv=8, d_ff=37, num_layers=2, num_heads=4,
        relative_attention_num_buckets=8, relative_attention_max_distance=16,
    )
    return UMT5EncoderModel(config).eval()


def scheduler(flow_shift: float):
    from diffusers import UniPCMultistepScheduler

    # The same scheduler class and flow settings the real Wan repos ship.
    return UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=flow_shift)


def vae(*, wan22: bool):
    import torch
    from diffusers import AutoencoderKLWan

    torch.manual_seed(0)
    if not wan22:
        return AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                                temperal_downsample=[False, True, True])
    # Wan 2.2 VAE: residual blocks, 2x2 patchify, 16x spatial compression, 48 latent channels.
    return AutoencoderKLWan(base_dim=3, z_dim=48, in_channels=12, out_channels=12, is_residual=True, patch_size=2,
                            latents_mean=[0.0] * 48, latents_std=[1.0] * 48, dim_mult=[1, 1, 1, 1],
                            num_res_blocks=1, scale_factor_spatial=16, scale_factor_temporal=4,
                            temperal_downsample=[False, True, True])


def transformer(channels: int, **extra):
    import torch
    from diffusers import WanTransformer3DModel

    torch.manual_seed(0)
    return WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=channels,
        out_channels=extra.pop("out_channels", channels), text_dim=TEXT_DIM, freq_dim=256, ffn_dim=32,
        num_layers=2, cross_attn_norm=True, qk_norm="rms_norm_across_heads", rope_max_seq_len=32, **extra,
    )


def t2v(path: Path) -> None:
    """Layout of Wan-AI/Wan2.1-T2V-1.3B-Diffusers."""
    from diffusers import WanPipeline

    pipe = WanPipeline(tokenizer=t5_tokenizer(), text_encoder=text_encoder(), vae=vae(wan22=False),
                       scheduler=scheduler(3.0), transformer=transformer(16))
    pipe.save_pretrained(path)


def ti2v(path: Path) -> None:
    """Layout of Wan-AI/Wan2.2-TI2V-5B-Diffusers (expand_timesteps: per-token timesteps for the first frame)."""
    from diffusers import WanPipeline

    pipe = WanPipeline(tokenizer=t5_tokenizer(), text_encoder=text_encoder(), vae=vae(wan22=True),
                       scheduler=scheduler(5.0), transformer=transformer(48), expand_timesteps=True)
    pipe.save_pretrained(path)


def t2v_a14b(path: Path) -> None:
    """Layout of Wan-AI/Wan2.2-T2V-A14B-Diffusers: two experts, high noise then low noise."""
    from diffusers import WanPipeline

    pipe = WanPipeline(tokenizer=t5_tokenizer(), text_encoder=text_encoder(), vae=vae(wan22=False),
                       scheduler=scheduler(12.0), transformer=transformer(16), transformer_2=transformer(16),
                       boundary_ratio=0.875)
    pipe.save_pretrained(path)


def lightning_lora(path: Path) -> None:
    """Stand-in for the lightx2v/Wan2.2-Distill-Loras (and Wan2.1-Distill-Loras) 4-step files: original Wan key
    names with LoRA pairs, bias deltas, zero norm deltas and the head delta (see pipelines/tiny/wan_lora.py)."""
    from pipelines.tiny import wan_lora

    wan_lora.save(wan_lora.state_dict(transformer(16), rank=4, alpha=None, distill_extras=True),
                  Path(path) / "pytorch_lora_weights.safetensors")
