"""Tiny Wan-Animate-2 (distilled) modular pipeline with the real classes and small configs, saved the way a
modular repo is laid out (modular_model_index.json plus one folder per component) and loaded through
ModularPipeline.from_pretrained + load_components, like Wan-AI/Wan2.2-Animate-2-14B-Distilled-Diffusers."""

from __future__ import annotations

from pathlib import Path

from pipelines.tiny import wan
from pipelines.tiny.tokenizer import t5_tokenizer


def image_encoder():
    import torch
    from transformers import CLIPVisionConfig, CLIPVisionModel

    torch.manual_seed(0)
    # The pipeline resizes to 224 px itself and the transformer's image projection takes 1280 features (the real
    # CLIP ViT-H width), so only depth and heads are small here.
    return CLIPVisionModel(CLIPVisionConfig(hidden_size=1280, intermediate_size=16, num_hidden_layers=1,
                                            num_attention_heads=2, image_size=224, patch_size=32,
                                            projection_dim=16)).eval()


def transformer():
    import torch
    from diffusers import WanAnimate2Transformer3DModel

    torch.manual_seed(0)
    return WanAnimate2Transformer3DModel(patch_size=(1, 2, 2), text_len=32, in_dim=36, dim=24, ffn_dim=32,
                                         freq_dim=256, text_dim=wan.TEXT_DIM, out_dim=16, num_heads=2, num_layers=2)


def distilled(path: Path) -> None:
    from diffusers import FlowMatchEulerDiscreteScheduler
    from diffusers.modular_pipelines import WanAnimate2DistilledBlocks

    pipe = WanAnimate2DistilledBlocks().init_pipeline()
    # The step passes a generator, so the scheduler is a flow-match Euler one; the real repo ships its own config.
    pipe.update_components(transformer=transformer(), text_encoder=wan.text_encoder(), tokenizer=t5_tokenizer(),
                           image_encoder=image_encoder(), vae=wan.vae(wan22=False),
                           scheduler=FlowMatchEulerDiscreteScheduler(shift=5.0))
    pipe.save_pretrained(str(path), overwrite_modular_index=True)
