"""Tiny stand-ins for the dance tab: Wan Animate, the RT-DETR person detector and ViTPose (Wan VACE: tiny/vace.py).

Each is the real class with a small config, saved in the Hub layout the real repo uses. Random weights give
arbitrary boxes and keypoints; two output biases are set so the tiny detector always reports a confident
person and the tiny pose model confident keypoints. The pipeline then runs its whole path in tests, where the
failure paths ("no person found") are reached by patching the models' outputs.
"""

from __future__ import annotations

from pathlib import Path

from pipelines.tiny import wan
from pipelines.tiny.tokenizer import t5_tokenizer

FACE_SIZE = 16          # the motion encoder's face crop size (512 in the real model)
CLIP_DIM = 8
DETECTOR_SIZE = 64      # RT-DETR input side (640 in the real model)
POSE_SIZE = (64, 48)    # ViTPose input height, width (256 x 192 in the real model)


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


def detector(path: Path) -> None:
    """Layout of PekingU/rtdetr_r50vd_coco_o365: RT-DETR with a ResNet backbone, COCO labels (0 = person)."""
    import torch
    from transformers import RTDetrConfig, RTDetrForObjectDetection, RTDetrImageProcessorPil, RTDetrResNetConfig

    torch.manual_seed(0)
    hidden_sizes = [10, 20, 30, 40]
    backbone = RTDetrResNetConfig(embeddings_size=10, hidden_sizes=hidden_sizes, depths=[1, 1, 2, 1],
                                  out_features=["stage2", "stage3", "stage4"], out_indices=[2, 3, 4])
    config = RTDetrConfig(
        backbone_config=backbone, encoder_hidden_dim=32, encoder_in_channels=hidden_sizes[1:], encoder_layers=1,
        encoder_ffn_dim=64, encoder_attention_heads=2, d_model=32, num_queries=10, decoder_in_channels=[32, 32, 32],
        decoder_ffn_dim=64, decoder_layers=2, decoder_attention_heads=2, num_denoising=0, image_size=DETECTOR_SIZE,
        id2label={0: "person", 1: "bicycle"}, label2id={"person": 0, "bicycle": 1},
    )
    model = RTDetrForObjectDetection(config).eval()
    with torch.no_grad():  # every query scores ~0.95 "person": the tiny detector always finds someone
        for head in model.model.decoder.class_embed:
            head.bias.copy_(torch.tensor([3.0, -3.0]))
    model.save_pretrained(path)
    RTDetrImageProcessorPil(size={"height": DETECTOR_SIZE, "width": DETECTOR_SIZE}).save_pretrained(path)


def vitpose(path: Path) -> None:
    """Layout of usyd-community/vitpose-base-simple: a ViT backbone, the simple heatmap decoder, 17 COCO keypoints."""
    import torch
    from transformers import VitPoseBackboneConfig, VitPoseConfig, VitPoseForPoseEstimation, VitPoseImageProcessorPil

    torch.manual_seed(0)
    backbone = VitPoseBackboneConfig(image_size=list(POSE_SIZE), patch_size=[8, 8], num_hidden_layers=2,
                                     hidden_size=16, intermediate_size=32, num_attention_heads=2, out_indices=[2])
    model = VitPoseForPoseEstimation(VitPoseConfig(backbone_config=backbone, num_labels=17)).eval()
    with torch.no_grad():  # heatmap peaks above the keypoint threshold: every tiny keypoint counts as seen
        model.head.conv.bias.fill_(1.0)
    model.save_pretrained(path)
    VitPoseImageProcessorPil(size={"height": POSE_SIZE[0], "width": POSE_SIZE[1]}).save_pretrained(path)


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
