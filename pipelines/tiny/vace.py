"""Tiny stand-ins for the video stylization models: Wan VACE, Lucy Edit, and the Depth Anything V2 estimator.

Each saves the real class with a small config in the layout of its Hub repo. The video-to-video preset loads
the Wan 2.1 T2V repo, so its stand-in is the tiny T2V layout that `wan:t2v` already builds.
"""

from __future__ import annotations

import json
from pathlib import Path

from pipelines.tiny import wan
from pipelines.tiny.tokenizer import t5_tokenizer


def vace_transformer():
    import torch
    from diffusers import WanVACETransformer3DModel

    torch.manual_seed(0)
    # VACE blocks read 2 x 16 latent channels (kept + changed video) plus the 8 x 8 mask patches: 96.
    return WanVACETransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=16, out_channels=16,
        text_dim=wan.TEXT_DIM, freq_dim=256, ffn_dim=32, num_layers=3, cross_attn_norm=True,
        qk_norm="rms_norm_across_heads", rope_max_seq_len=32, vace_layers=[0, 2], vace_in_channels=96,
    )


def vace(path: Path) -> None:
    """Layout of Wan-AI/Wan2.1-VACE-1.3B-diffusers (and the 14B repo, which has the same parts)."""
    from diffusers import WanVACEPipeline

    pipe = WanVACEPipeline(tokenizer=t5_tokenizer(), text_encoder=wan.text_encoder(), vae=wan.vae(wan22=False),
                           scheduler=wan.scheduler(3.0), transformer=vace_transformer())
    pipe.save_pretrained(path)


def lucy(path: Path) -> None:
    """Layout of decart-ai/Lucy-Edit-Dev: Wan 2.2 TI2V-5B parts; the transformer reads noise + source latents."""
    from diffusers import LucyEditPipeline

    pipe = LucyEditPipeline(tokenizer=t5_tokenizer(), text_encoder=wan.text_encoder(), vae=wan.vae(wan22=True),
                            scheduler=wan.scheduler(5.0), transformer=wan.transformer(96, out_channels=48))
    pipe.save_pretrained(path)


def depth(path: Path) -> None:
    """Layout of depth-anything/Depth-Anything-V2-Small-hf: a DINOv2 backbone, a DPT head, a DPT processor."""
    import torch
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config

    torch.manual_seed(0)
    backbone = Dinov2Config(image_size=28, patch_size=14, hidden_size=8, num_hidden_layers=2, num_attention_heads=2,
                            intermediate_size=16, out_indices=[1, 2], reshape_hidden_states=False)
    config = DepthAnythingConfig(backbone_config=backbone, reassemble_hidden_size=8, patch_size=14,
                                 neck_hidden_sizes=[4, 4], fusion_hidden_size=8, head_hidden_size=4)
    DepthAnythingForDepthEstimation(config).eval().save_pretrained(path)
    # The real processor resizes to 518 (a multiple of the 14-pixel patch) keeping the aspect; here 28.
    processor = {
        "image_processor_type": "DPTImageProcessor", "do_resize": True, "size": {"height": 28, "width": 28},
        "keep_aspect_ratio": True, "ensure_multiple_of": 14, "resample": 3, "do_rescale": True,
        "rescale_factor": 1 / 255, "do_normalize": True, "image_mean": [0.485, 0.456, 0.406],
        "image_std": [0.229, 0.224, 0.225], "do_pad": False,
    }
    (Path(path) / "preprocessor_config.json").write_text(json.dumps(processor, indent=2), encoding="utf-8")
