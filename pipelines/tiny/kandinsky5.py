"""Tiny Kandinsky 5.0 Video Lite pipeline with the real classes and small configs: Kandinsky5 transformer
(visual conditioning channels, as the Lite checkpoints have), the HunyuanVideo VAE, a Qwen2.5-VL text encoder behind
its Qwen2-VL processor, a CLIP text encoder, and a flow-matching Euler scheduler. Tokenizers are built offline.

The pipeline encodes its prompt template plus the prompt, keeps at most 128 + `max_sequence_length` tokens and
drops the first 128 (`prompt_template_encode_start_idx`, the system turn). The tiny Qwen tokenizer therefore has
one token per word of that template, so the visitor's words fall inside the kept window instead of being cut off
behind hundreds of single-letter tokens.
"""

from __future__ import annotations

import re
import string
from pathlib import Path

QWEN_DIM = 16
CLIP_DIM = 8
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
PROMPT_WORDS = "a an the of and in on with at to lighthouse dusk lantern cat dog sea snow fox red running".split()


def _byte_level_bpe(words: list[str]):
    """A byte-level BPE (Qwen's kind) in which each of `words` is one token, with or without a leading space."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {piece: index for index, piece in enumerate(alphabet)}
    merges = []
    for word in dict.fromkeys(words):
        for piece in (word, "\u0120" + word):  # "\u0120" is the byte-level space
            built = piece[0]
            for char in piece[1:]:
                if built + char not in vocab:
                    merges.append((built, char))
                    vocab[built + char] = len(vocab)
                built += char
    backend = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    return backend


def qwen_processor(template: str):
    """Qwen2VLProcessor (the class of the real repo's `tokenizer` folder) over a tokenizer knowing `template`."""
    from transformers import Qwen2TokenizerFast, Qwen2VLImageProcessor, Qwen2VLProcessor, Qwen2VLVideoProcessor

    words = re.findall(r"[A-Za-z]+", template) + PROMPT_WORDS
    tok = Qwen2TokenizerFast(tokenizer_object=_byte_level_bpe(words), unk_token=None, bos_token=None,
                             eos_token="<|im_end|>", pad_token="<|endoftext|>", additional_special_tokens=SPECIALS[1:])
    tok.add_special_tokens({"pad_token": "<|endoftext|>", "additional_special_tokens": SPECIALS[1:]})
    return Qwen2VLProcessor(image_processor=Qwen2VLImageProcessor(), tokenizer=tok,
                            video_processor=Qwen2VLVideoProcessor())


def qwen_text_encoder(tokenizer):
    import torch
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    torch.manual_seed(0)
    ids = {"bos_token_id": tokenizer.pad_token_id, "eos_token_id": tokenizer.convert_tokens_to_ids("<|im_end|>")}
    config = Qwen2_5_VLConfig(
        text_config={**ids, "vocab_size": len(tokenizer), "hidden_size": QWEN_DIM, "intermediate_size": 32,
                     "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 2,
                     "rope_scaling": {"mrope_section": [1, 1, 2], "rope_type": "default", "type": "default"}},
        vision_config={"depth": 1, "hidden_size": 16, "intermediate_size": 16, "num_heads": 2, "out_hidden_size": QWEN_DIM,
                       "fullatt_block_indexes": [0], "window_size": 16, "patch_size": 14, "spatial_merge_size": 2,
                       "temporal_patch_size": 2},
    )
    return Qwen2_5_VLForConditionalGeneration(config).eval()


def clip_tokenizer():
    from transformers import CLIPTokenizer

    chars = list(string.ascii_lowercase + string.digits + string.punctuation)
    pieces = ["<|startoftext|>", "<|endoftext|>"] + chars + [c + "</w>" for c in chars]
    return CLIPTokenizer(vocab={piece: i for i, piece in enumerate(pieces)}, merges=[])


def clip_text_encoder(vocab_size: int):
    import torch
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(0)
    return CLIPTextModel(CLIPTextConfig(vocab_size=vocab_size, hidden_size=CLIP_DIM, intermediate_size=16,
                                        num_hidden_layers=1, num_attention_heads=2, max_position_embeddings=77,
                                        projection_dim=CLIP_DIM, bos_token_id=0, eos_token_id=1)).eval()


def vae():
    import torch
    from diffusers import AutoencoderKLHunyuanVideo

    torch.manual_seed(0)
    return AutoencoderKLHunyuanVideo(
        in_channels=3, out_channels=3, latent_channels=4,
        down_block_types=("HunyuanVideoDownBlock3D",) * 3, up_block_types=("HunyuanVideoUpBlock3D",) * 3,
        block_out_channels=(8, 8, 8), layers_per_block=1, norm_num_groups=4, spatial_compression_ratio=4,
        temporal_compression_ratio=4, mid_block_add_attention=False,  # 4x in time, as the real VAE
    )


def transformer():
    import torch
    from diffusers import Kandinsky5Transformer3DModel

    torch.manual_seed(0)
    # The Lite checkpoints' layout (kandinskylab/kandinsky-5 configs/k5_lite_t2v_5s_distil_sd.yaml: patch 1x2x2,
    # visual_cond true, regular attention for the 5 s models), with tiny widths.
    return Kandinsky5Transformer3DModel(
        in_visual_dim=4, out_visual_dim=4, in_text_dim=QWEN_DIM, in_text_dim2=CLIP_DIM, time_dim=16,
        patch_size=(1, 2, 2), model_dim=16, ff_dim=32, num_text_blocks=1, num_visual_blocks=1,
        axes_dims=(2, 2, 4), visual_cond=True, attention_type="regular",
    )


def t2v_lite(path: Path) -> None:
    """Layout of kandinskylab/Kandinsky-5.0-T2V-Lite-distilled16steps-5s-Diffusers."""
    from diffusers import FlowMatchEulerDiscreteScheduler, Kandinsky5T2VPipeline

    clip_tok = clip_tokenizer()
    pipe = Kandinsky5T2VPipeline(transformer=transformer(), vae=vae(), text_encoder=None, tokenizer=None,
                                 text_encoder_2=clip_text_encoder(len(clip_tok)), tokenizer_2=clip_tok,
                                 scheduler=FlowMatchEulerDiscreteScheduler(shift=5.0))
    processor = qwen_processor(pipe.prompt_template)
    pipe.register_modules(tokenizer=processor, text_encoder=qwen_text_encoder(processor.tokenizer))
    pipe.save_pretrained(Path(path))
