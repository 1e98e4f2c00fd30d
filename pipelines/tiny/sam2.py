"""A tiny SAM 2 video model (the classes of facebook/sam2-hiera-large in transformers) and its processor, at a
64-pixel input instead of 1024, saved in the Hub layout that pipelines/person_mask.py loads.

Two sizes cannot shrink with the rest: the memory attention reads 64-channel memories (its key/value width is
fixed at 64 in transformers' Sam2VideoMemoryAttentionLayer), and the object pointers are split into 64-wide
tokens, which needs a wider hidden size than 64; hence 128.
"""

from __future__ import annotations

from pathlib import Path

SIZE = 64      # input side (1024 on the real model)
HIDDEN = 128


def video(path: Path) -> None:
    import torch
    from transformers import Sam2ImageProcessor, Sam2VideoConfig, Sam2VideoModel, Sam2VideoProcessor
    from transformers.models.sam2_video.video_processing_sam2_video import Sam2VideoVideoProcessor

    backbone = dict(model_type="sam2_hiera_det_model", hidden_size=8, image_size=[SIZE, SIZE],
                    blocks_per_stage=[1, 1, 2, 1], embed_dim_per_stage=[8, 16, 32, 64],
                    num_attention_heads_per_stage=[1, 1, 1, 1], window_size_per_stage=[4, 4, 2, 2],
                    global_attention_blocks=[3], window_positional_embedding_background_size=[2, 2])
    vision = dict(model_type="sam2_vision_model", backbone_config=backbone, backbone_channel_list=[64, 32, 16, 8],
                  backbone_feature_sizes=[[SIZE // 4] * 2, [SIZE // 8] * 2, [SIZE // 16] * 2], fpn_hidden_size=HIDDEN)
    config = Sam2VideoConfig(
        vision_config=vision, image_size=SIZE,
        prompt_encoder_config=dict(hidden_size=HIDDEN, image_size=SIZE, patch_size=16, mask_input_channels=4),
        mask_decoder_config=dict(hidden_size=HIDDEN, mlp_dim=32, num_attention_heads=2, iou_head_hidden_dim=16),
        num_maskmem=2, max_object_pointers_in_encoder=2, memory_attention_hidden_size=HIDDEN,
        memory_attention_num_layers=1, memory_attention_feed_forward_hidden_size=32,
        memory_attention_rope_feat_sizes=[SIZE // 16] * 2, memory_encoder_hidden_size=HIDDEN,
        memory_encoder_output_channels=64, mask_downsampler_embed_dim=HIDDEN, memory_fuser_embed_dim=HIDDEN,
        memory_fuser_intermediate_dim=32)
    torch.manual_seed(0)
    Sam2VideoModel(config).eval().save_pretrained(path)
    size = {"height": SIZE, "width": SIZE}
    # point_pad_value -10 as the real processor_config.json; target_size is the model's input side
    Sam2VideoProcessor(image_processor=Sam2ImageProcessor(size=size), video_processor=Sam2VideoVideoProcessor(size=size),
                       target_size=SIZE, point_pad_value=-10).save_pretrained(path)
