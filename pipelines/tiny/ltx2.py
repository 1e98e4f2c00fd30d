"""Tiny LTX-2 pipelines (text-to-video and keyframe conditioning) with the real classes and small configs.

The video VAE keeps the real compression ratios (32x spatial, 8x temporal), so the real input rules hold:
height and width multiples of 32, num_frames = 8k + 1. The text encoder is a tiny Gemma 3 built in code and
the tokenizer a character-level Gemma tokenizer with byte fallback, so nothing is downloaded.
"""

from __future__ import annotations

import string
from pathlib import Path

TEXT_DIM = 32  # Gemma hidden size; also the connectors' width (4 heads x 8), which LTX-2.0 connectors require
TEXT_LAYERS = 2


def tokenizer():
    from transformers import GemmaTokenizer

    # Gemma's special ids (pad 0, eos 1, bos 2, unk 3) plus the image tokens the Gemma 3 config points at.
    specials = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>", "<start_of_image>", "<end_of_image>",
                "<image_soft_token>"]
    # Byte-fallback pieces: any character outside the small alphabet still becomes real tokens, never <unk>.
    pieces = specials + [f"<0x{i:02X}>" for i in range(256)] + ["\u2581"]
    pieces += list(string.digits + string.ascii_letters + string.punctuation)
    vocab = {piece: i for i, piece in enumerate(dict.fromkeys(pieces))}
    # Like Gemma: <bos> first, padded on the left (the pipeline pads to max_sequence_length, 1024 by default).
    return GemmaTokenizer(vocab=vocab, merges=[], add_bos_token=True, model_max_length=1024, padding_side="left")


def text_encoder(vocab_size: int):
    import torch
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration

    # The class the real repos ship; its vision tower is unused by LTX-2 (only prompt enhancement would use it).
    config = Gemma3Config(
        text_config=dict(
            vocab_size=vocab_size, hidden_size=TEXT_DIM, intermediate_size=64, num_hidden_layers=TEXT_LAYERS,
            num_attention_heads=2, num_key_value_heads=1, head_dim=16, query_pre_attn_scalar=16,
            max_position_embeddings=2048, sliding_window=64,
        ),
        vision_config=dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                           image_size=8, patch_size=2),
        mm_tokens_per_image=4, boi_token_index=5, eoi_token_index=6, image_token_index=7,
    )
    torch.manual_seed(0)
    return Gemma3ForConditionalGeneration(config).eval()


def connectors():
    import torch
    from diffusers.pipelines.ltx2 import LTX2TextConnectors

    torch.manual_seed(0)
    return LTX2TextConnectors(
        caption_channels=TEXT_DIM, text_proj_in_factor=TEXT_LAYERS + 1,  # all hidden states, embeddings included
        video_connector_num_attention_heads=4, video_connector_attention_head_dim=8,
        video_connector_num_layers=1, video_connector_num_learnable_registers=None,
        audio_connector_num_attention_heads=4, audio_connector_attention_head_dim=8,
        audio_connector_num_layers=1, audio_connector_num_learnable_registers=None,
        connector_rope_base_seq_len=32, rope_double_precision=False, rope_type="split",
    )


def transformer():
    import torch
    from diffusers import LTX2VideoTransformer3DModel

    torch.manual_seed(0)
    return LTX2VideoTransformer3DModel(
        in_channels=4, out_channels=4, patch_size=1, patch_size_t=1,
        num_attention_heads=2, attention_head_dim=8, cross_attention_dim=16,
        audio_in_channels=4, audio_out_channels=4, audio_num_attention_heads=2, audio_attention_head_dim=4,
        audio_cross_attention_dim=8, num_layers=2, caption_channels=TEXT_DIM,
        rope_double_precision=False, rope_type="split",
    )


def vae():
    import torch
    from diffusers import AutoencoderKLLTX2Video

    torch.manual_seed(0)
    # patch 4 x three spatio-temporal 2x stages = 32x spatial and 8x temporal, like the real VAE.
    return AutoencoderKLLTX2Video(
        latent_channels=4, block_out_channels=(8, 8, 8), decoder_block_out_channels=(8, 8, 8),
        down_block_types=("LTX2VideoDownBlock3D",) * 3, layers_per_block=(1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1), spatio_temporal_scaling=(True, True, True),
        decoder_spatio_temporal_scaling=(True, True, True), decoder_inject_noise=(False,) * 4,
        downsample_type=("spatiotemporal",) * 3, upsample_type=("spatiotemporal",) * 3,
        upsample_residual=(False,) * 3, upsample_factor=(1, 1, 1), patch_size=4, patch_size_t=1,
        decoder_causal=False,
        # A 32x32 video is a 1x1 latent; "reflect" padding (the real decoder's) needs at least 2 pixels.
        decoder_spatial_padding_mode="zeros",
    )


def audio_vae():
    import torch
    from diffusers import AutoencoderKLLTX2Audio

    torch.manual_seed(0)
    return AutoencoderKLLTX2Audio(
        base_channels=4, output_channels=2, ch_mult=(1,), num_res_blocks=1, in_channels=2, resolution=32,
        latent_channels=2, mel_bins=8, sample_rate=16000, mel_hop_length=160,
    )


def vocoder():
    import torch
    from diffusers.pipelines.ltx2.vocoder import LTX2Vocoder

    torch.manual_seed(0)
    # Upsampling 4*5*8 = 160 = the mel hop length, so the waveform lasts as long as the video at 16 kHz.
    return LTX2Vocoder(
        in_channels=2 * 8, hidden_channels=32, out_channels=2, upsample_kernel_sizes=[8, 10, 16],
        upsample_factors=[4, 5, 8], resnet_kernel_sizes=[3], resnet_dilations=[[1, 3, 5]],
        output_sampling_rate=16000,
    )


def scheduler():
    from diffusers import FlowMatchEulerDiscreteScheduler

    # The flow settings the LTX-2.x repos ship: resolution-dependent (dynamic) shift with a terminal sigma.
    return FlowMatchEulerDiscreteScheduler(
        use_dynamic_shifting=True, base_shift=0.95, max_shift=2.05, base_image_seq_len=1024,
        max_image_seq_len=4096, shift_terminal=0.1, time_shift_type="exponential",
    )


def components() -> dict:
    tok = tokenizer()
    return dict(
        scheduler=scheduler(), vae=vae(), audio_vae=audio_vae(), text_encoder=text_encoder(len(tok)),
        tokenizer=tok, connectors=connectors(), transformer=transformer(), vocoder=vocoder(),
    )


def build_t2v(path: Path) -> None:
    """Save a tiny random-weight LTX2Pipeline in the Hub layout (model_index.json + one subfolder per component)."""
    from diffusers import LTX2Pipeline

    LTX2Pipeline(**components()).save_pretrained(Path(path))


def build_condition(path: Path) -> None:
    """Save a tiny LTX2ConditionPipeline (keyframe conditioning: first/last frame image-to-video)."""
    from diffusers import LTX2ConditionPipeline

    LTX2ConditionPipeline(**components()).save_pretrained(Path(path))


def gemma4_text_encoder(vocab_size: int):
    import torch
    from transformers import Gemma4UnifiedConfig, Gemma4UnifiedForConditionalGeneration

    # LTX-2.5's text encoder class; text only (its vision and audio towers are optional and unused here).
    config = Gemma4UnifiedConfig(
        text_config=dict(vocab_size=vocab_size, hidden_size=TEXT_DIM, intermediate_size=64,
                         num_hidden_layers=TEXT_LAYERS, num_attention_heads=2, num_key_value_heads=1, head_dim=16,
                         max_position_embeddings=2048, sliding_window=64,
                         layer_types=["sliding_attention", "full_attention"]),
        vision_config=None, audio_config=None,
    )
    torch.manual_seed(0)
    return Gemma4UnifiedForConditionalGeneration(config).eval()


def bwe_vocoder():
    import torch
    from diffusers.pipelines.ltx2.vocoder import LTX2VocoderWithBWE

    torch.manual_seed(0)
    # Stage 1 as in vocoder() (16 kHz); the bandwidth extender keeps the real mel settings and upsampling (x3 to
    # 48 kHz, what LTX-2.5 outputs) with few channels.
    return LTX2VocoderWithBWE(
        in_channels=2 * 8, hidden_channels=32, out_channels=2, upsample_kernel_sizes=[8, 10, 16],
        upsample_factors=[4, 5, 8], resnet_kernel_sizes=[3], resnet_dilations=[[1, 3, 5]],
        bwe_in_channels=2 * 64, bwe_hidden_channels=32, bwe_out_channels=2, bwe_resnet_kernel_sizes=[3],
        bwe_resnet_dilations=[[1, 3, 5]], input_sampling_rate=16000, output_sampling_rate=48000,
    )


def build_t2v_25(path: Path) -> None:
    """Save a tiny LTX-2.5 LTX2Pipeline: the LTX-2 classes with a Gemma 4 text encoder and the 48 kHz BWE vocoder."""
    from diffusers import LTX2Pipeline

    parts = components()
    parts.update(text_encoder=gemma4_text_encoder(len(parts["tokenizer"])), vocoder=bwe_vocoder())
    LTX2Pipeline(**parts).save_pretrained(Path(path))


def latent_upsampler_25(path: Path) -> None:
    """A tiny 2x spatial latent upsampler (LTX2LatentUpsamplerModel; 32 channels, as its GroupNorm has 32 groups) for
    the tiny VAE's 4 latent channels, in the `latent_upsampler` subfolder where the LTX-2 Diffusers repos keep it
    (diffusers docs api/pipelines/ltx2.md)."""
    import torch
    from diffusers.pipelines.ltx2.latent_upsampler import LTX2LatentUpsamplerModel

    torch.manual_seed(0)
    LTX2LatentUpsamplerModel(in_channels=4, mid_channels=32, num_blocks_per_stage=1, dims=3, spatial_upsample=True,
                             temporal_upsample=False, rational_spatial_scale=2.0, use_rational_resampler=False,
                             ).save_pretrained(Path(path) / "latent_upsampler")
