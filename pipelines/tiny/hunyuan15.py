"""Tiny HunyuanVideo 1.5 pipeline with the real classes and small configs (diffusers' own tests' dummy
components: Qwen2.5-VL text model, ByT5 glyph encoder, HunyuanVideo 1.5 VAE and transformer, a CFG guider),
with tokenizers built offline so nothing is downloaded."""

from __future__ import annotations

import string
from pathlib import Path

QWEN_DIM = 16
BYT5_DIM = 32
# The Qwen chat layout the pipeline's prompt template relies on (system + user turns, then the assistant's).
CHAT_TEMPLATE = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
                 "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def qwen_tokenizer():
    from transformers import Qwen2Tokenizer

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    text = list(string.ascii_letters + string.digits + string.punctuation)
    vocab = {piece: i for i, piece in enumerate(dict.fromkeys(specials + text + ["\u0120", "\u010a"]))}
    return Qwen2Tokenizer(vocab=vocab, merges=[], unk_token="<|endoftext|>", pad_token="<|endoftext|>",
                          additional_special_tokens=specials[1:], chat_template=CHAT_TEMPLATE)


def qwen_text_model(vocab_size: int):
    import torch
    from transformers import Qwen2_5_VLTextConfig, Qwen2_5_VLTextModel

    torch.manual_seed(0)
    return Qwen2_5_VLTextModel(Qwen2_5_VLTextConfig(
        vocab_size=vocab_size, hidden_size=QWEN_DIM, intermediate_size=16, num_hidden_layers=3,
        num_attention_heads=2, num_key_value_heads=2, rope_theta=1000000.0, bos_token_id=1, eos_token_id=2,
        rope_scaling={"mrope_section": [1, 1, 2], "rope_type": "default", "type": "default"},
    )).eval()


def byt5_encoder():
    import torch
    from transformers import T5Config, T5EncoderModel

    torch.manual_seed(0)
    # ByT5's byte vocabulary: 256 bytes + 3 specials (+ the 125 extra ids ByT5Tokenizer reserves).
    return T5EncoderModel(T5Config(vocab_size=384, d_model=BYT5_DIM, d_kv=8, d_ff=37, num_layers=2, num_heads=4,
                                   relative_attention_num_buckets=8, relative_attention_max_distance=16)).eval()


def vae():
    import torch
    from diffusers import AutoencoderKLHunyuanVideo15

    torch.manual_seed(0)
    return AutoencoderKLHunyuanVideo15(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(16, 16),
                                       layers_per_block=1, spatial_compression_ratio=4, temporal_compression_ratio=2,
                                       downsample_match_channel=False, upsample_match_channel=False)


def transformer(task_type: str, target_size: int = 16, use_meanflow: bool = False):
    import torch
    from diffusers import HunyuanVideo15Transformer3DModel

    torch.manual_seed(0)
    return HunyuanVideo15Transformer3DModel(
        in_channels=9, out_channels=4, num_attention_heads=2, attention_head_dim=8, num_layers=1,
        num_refiner_layers=1, mlp_ratio=2.0, patch_size=1, patch_size_t=1, text_embed_dim=QWEN_DIM,
        text_embed_2_dim=BYT5_DIM, image_embed_dim=12, rope_axes_dim=(2, 2, 4), target_size=target_size, task_type=task_type,
        use_meanflow=use_meanflow,
    )


def t2v_480p(path: Path) -> None:
    """Layout of hunyuanvideo-community/HunyuanVideo-1.5-480p_t2v (flow shift 5, CFG 6 in its guider)."""
    from diffusers import ClassifierFreeGuidance, FlowMatchEulerDiscreteScheduler, HunyuanVideo15Pipeline
    from transformers import ByT5Tokenizer

    tokenizer = qwen_tokenizer()
    HunyuanVideo15Pipeline(
        transformer=transformer("t2v"), vae=vae(), scheduler=FlowMatchEulerDiscreteScheduler(shift=5.0),
        text_encoder=qwen_text_model(len(tokenizer)), tokenizer=tokenizer, text_encoder_2=byt5_encoder(),
        tokenizer_2=ByT5Tokenizer(), guider=ClassifierFreeGuidance(guidance_scale=6.0),
    ).save_pretrained(Path(path))


# The image encoder's width is the transformer's image_embed_dim (12 above); SigLIP's own preprocessing resizes
# every picture to its `image_size`.
SIGLIP_SIZE = 32
I2V_TARGET_SIZE = 32


def siglip_encoder():
    import torch
    from transformers import SiglipVisionConfig, SiglipVisionModel

    torch.manual_seed(0)
    return SiglipVisionModel(SiglipVisionConfig(
        hidden_size=12, intermediate_size=16, num_hidden_layers=1, num_attention_heads=2, image_size=SIGLIP_SIZE,
        patch_size=8,
    )).eval()


def siglip_processor():
    from transformers import SiglipImageProcessor

    return SiglipImageProcessor(size={"height": SIGLIP_SIZE, "width": SIGLIP_SIZE})


def _i2v(path: Path, shift: float, guidance: float, use_meanflow: bool) -> None:
    from diffusers import ClassifierFreeGuidance, FlowMatchEulerDiscreteScheduler, HunyuanVideo15ImageToVideoPipeline
    from transformers import ByT5Tokenizer

    tokenizer = qwen_tokenizer()
    # target_size 32 (pixels) with the VAE's 4x spatial compression: buckets of about 32x32 pixels, the tiny
    # stand-in for the real 640 at 16x (Tencent-Hunyuan/HunyuanVideo-1.5 hunyuan_video_pipeline.py, 480p).
    # The step-distilled transformer also embeds the next timestep (MeanFlow, use_meanflow).
    model = transformer("i2v", target_size=I2V_TARGET_SIZE, use_meanflow=use_meanflow)
    HunyuanVideo15ImageToVideoPipeline(
        transformer=model, vae=vae(), scheduler=FlowMatchEulerDiscreteScheduler(shift=shift),
        text_encoder=qwen_text_model(len(tokenizer)), tokenizer=tokenizer, text_encoder_2=byt5_encoder(),
        tokenizer_2=ByT5Tokenizer(), guider=ClassifierFreeGuidance(guidance_scale=guidance),
        image_encoder=siglip_encoder(), feature_extractor=siglip_processor(),
    ).save_pretrained(Path(path))


def i2v_480p(path: Path) -> None:
    """Layout of hunyuanvideo-community/HunyuanVideo-1.5-Diffusers-480p_i2v: the T2V parts plus a SigLIP image
    encoder and its processor (flow shift 5, CFG 6 in its guider)."""
    _i2v(path, shift=5.0, guidance=6.0, use_meanflow=False)


def i2v_480p_step_distilled(path: Path) -> None:
    """Layout of hunyuanvideo-community/HunyuanVideo-1.5-Diffusers-480p_i2v_step_distilled: a MeanFlow
    transformer (use_meanflow), flow shift 7, guidance 1 (diffusers scripts/convert_hunyuan_video1_5_to_diffusers.py
    configs for 480p_i2v_step_distilled, as added in huggingface/diffusers#12802)."""
    _i2v(path, shift=7.0, guidance=1.0, use_meanflow=True)
