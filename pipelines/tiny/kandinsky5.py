"""Tiny Kandinsky 5.0 Video Lite pipeline with the real classes and small configs (diffusers' own tests'
dummy components: Qwen2.5-VL + CLIP text encoders, HunyuanVideo VAE, Kandinsky5Transformer3DModel), with
tokenizers built offline so nothing is downloaded."""

from __future__ import annotations

import string
from pathlib import Path

QWEN_DIM = 16
CLIP_DIM = 32
_TEXT = list(string.ascii_letters + string.digits + string.punctuation)


def qwen_processor():
    """A character-level Qwen2 tokenizer (byte-level markers for space and newline) in a Qwen2-VL processor."""
    from transformers import Qwen2Tokenizer, Qwen2VLImageProcessor, Qwen2VLProcessor

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
                "<|image_pad|>", "<|video_pad|>"]
    vocab = {piece: i for i, piece in enumerate(dict.fromkeys(specials + _TEXT + ["\u0120", "\u010a"]))}
    tokenizer = Qwen2Tokenizer(vocab=vocab, merges=[], unk_token="<|endoftext|>", pad_token="<|endoftext|>",
                               additional_special_tokens=specials[1:])
    return Qwen2VLProcessor(image_processor=Qwen2VLImageProcessor(), tokenizer=tokenizer,
                            video_processor=None)


def qwen_encoder(vocab_size: int):
    import torch
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    torch.manual_seed(0)
    config = Qwen2_5_VLConfig(
        text_config={"hidden_size": QWEN_DIM, "intermediate_size": 16, "num_hidden_layers": 2,
                     "num_attention_heads": 2, "num_key_value_heads": 2, "vocab_size": vocab_size,
                     "rope_scaling": {"mrope_section": [1, 1, 2], "rope_type": "default", "type": "default"},
                     "rope_theta": 1000000.0},
        vision_config={"depth": 2, "hidden_size": 16, "intermediate_size": 16, "num_heads": 2, "out_hidden_size": 16},
        hidden_size=QWEN_DIM, vocab_size=vocab_size,
        vision_start_token_id=3, vision_end_token_id=4, image_token_id=5, video_token_id=6,
    )
    return Qwen2_5_VLForConditionalGeneration(config).eval()


def clip_tokenizer():
    from transformers import CLIPTokenizer

    pieces = ["<|startoftext|>", "<|endoftext|>"] + [c + "</w>" for c in _TEXT] + _TEXT
    return CLIPTokenizer(vocab={p: i for i, p in enumerate(dict.fromkeys(pieces))}, merges=[])


def clip_encoder(vocab_size: int):
    import torch
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(0)
    return CLIPTextModel(CLIPTextConfig(
        bos_token_id=0, eos_token_id=1, pad_token_id=1, hidden_size=CLIP_DIM, intermediate_size=37,
        num_attention_heads=4, num_hidden_layers=2, vocab_size=vocab_size, projection_dim=CLIP_DIM,
    )).eval()


def vae():
    import torch
    from diffusers import AutoencoderKLHunyuanVideo

    torch.manual_seed(0)
    # The real VAE's compression: 8x spatial, 4x temporal.
    return AutoencoderKLHunyuanVideo(in_channels=3, out_channels=3, spatial_compression_ratio=8,
                                     temporal_compression_ratio=4, latent_channels=4,
                                     block_out_channels=(8, 8, 8, 8), layers_per_block=1, norm_num_groups=4)


def transformer():
    import torch
    from diffusers import Kandinsky5Transformer3DModel

    torch.manual_seed(0)
    return Kandinsky5Transformer3DModel(
        in_visual_dim=4, in_text_dim=QWEN_DIM, in_text_dim2=CLIP_DIM, time_dim=32, out_visual_dim=4,
        patch_size=(1, 2, 2), model_dim=48, ff_dim=128, num_text_blocks=1, num_visual_blocks=1,
        axes_dims=(8, 8, 8), visual_cond=False,
    )


def t2v_lite(path: Path) -> None:
    """Layout of kandinskylab/Kandinsky-5.0-T2V-Lite-*-Diffusers (flow-match Euler, shift 5 for the 5 s models)."""
    from diffusers import FlowMatchEulerDiscreteScheduler, Kandinsky5T2VPipeline

    processor, clip_tok = qwen_processor(), clip_tokenizer()
    pipe = Kandinsky5T2VPipeline(
        transformer=transformer(), vae=vae(), scheduler=FlowMatchEulerDiscreteScheduler(shift=5.0),
        text_encoder=qwen_encoder(len(processor.tokenizer)), tokenizer=processor,
        text_encoder_2=clip_encoder(len(clip_tok)), tokenizer_2=clip_tok,
    )
    pipe.save_pretrained(Path(path))
