"""Tiny random-weight SAM 2.1 and EdgeTAM models built from small transformers configs and saved with
`save_pretrained` (config.json + model.safetensors + processor config), like the real Hugging Face repositories:
they load through Hearth's real loader in about a second."""

from __future__ import annotations

from pathlib import Path

SIZE = 256  # encoder input side; feature maps 64 / 32 / 16


def _heads() -> dict:
    return dict(
        prompt_encoder_config=dict(hidden_size=32, image_size=SIZE, patch_size=16, mask_input_channels=8),
        mask_decoder_config=dict(hidden_size=32, mlp_dim=64, num_hidden_layers=2, num_attention_heads=4,
                                 iou_head_hidden_dim=32),
    )


def _vision(backbone, channels) -> dict:
    return dict(backbone_config=backbone, backbone_channel_list=channels, fpn_hidden_size=32,
                backbone_feature_sizes=[[SIZE // 4] * 2, [SIZE // 8] * 2, [SIZE // 16] * 2])


def sam2_config(video: bool = False):
    """A Hiera SAM 2.1 config at 1/4 scale in every dimension. `video`: the sam2_video config the facebook/sam2.1-*
    repositories ship (the image part is what Hearth loads)."""
    from transformers import Sam2Config, Sam2VideoConfig

    hiera = dict(model_type="sam2_hiera_det_model", hidden_size=16, num_attention_heads=1, image_size=[SIZE, SIZE],
                 blocks_per_stage=[1, 1, 2, 1], embed_dim_per_stage=[16, 32, 64, 128],
                 num_attention_heads_per_stage=[1, 1, 2, 2], window_size_per_stage=[4, 4, 8, 4],
                 global_attention_blocks=[3], window_positional_embedding_background_size=[4, 4])
    kw = dict(vision_config=_vision(hiera, [128, 64, 32, 16]), **_heads())
    if not video:
        return Sam2Config(**kw)
    return Sam2VideoConfig(**kw, image_size=SIZE, memory_attention_hidden_size=32, memory_encoder_hidden_size=32,
                           mask_downsampler_embed_dim=32, memory_fuser_embed_dim=32, memory_attention_num_layers=1,
                           memory_attention_feed_forward_hidden_size=32)


def edgetam_config():
    """EdgeTAM's real encoder family (timm RepViT) with small widths."""
    from transformers import EdgeTamConfig, TimmWrapperConfig

    repvit = TimmWrapperConfig(architecture="repvit_m1", num_classes=1000,
                               model_args={"in_chans": 3, "features_only": True, "out_indices": [0, 1, 2, 3],
                                           "embed_dim": [16, 32, 64, 128]})
    return EdgeTamConfig(vision_config=_vision(repvit, [128, 64, 32, 16]), **_heads())


def save_tiny(folder: Path, kind: str = "sam2", seed: int = 0, processor: bool = True) -> Path:
    """Build a tiny random model (kind: sam2 | sam2_video | edgetam) and save it as a Hugging Face folder."""
    import torch
    from transformers import EdgeTamModel, Sam2ImageProcessor, Sam2Model, Sam2Processor, Sam2VideoModel

    torch.manual_seed(seed)
    if kind == "edgetam":
        model = EdgeTamModel(edgetam_config())
    elif kind == "sam2_video":
        model = Sam2VideoModel(sam2_config(video=True))
    else:
        model = Sam2Model(sam2_config())
    folder = Path(folder)
    model.eval().save_pretrained(folder)
    if processor:
        Sam2Processor(image_processor=Sam2ImageProcessor(size={"height": SIZE, "width": SIZE}),
                      target_size=SIZE).save_pretrained(folder)
    return folder
