"""A tiny Segment Anything model built from segment_anything's own modules, random weights, saved as a state
dict: loads through Hearth's real loader in well under a second."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np


def build_tiny_sam(seed: int = 0, embed_dim: int = 64, depth: int = 2, heads: int = 2, img_size: int = 256):
    import torch
    from segment_anything.modeling import ImageEncoderViT, MaskDecoder, PromptEncoder, Sam, TwoWayTransformer

    torch.manual_seed(seed)
    patch, prompt_dim = 16, 32
    grid = img_size // patch
    sam = Sam(
        image_encoder=ImageEncoderViT(depth=depth, embed_dim=embed_dim, img_size=img_size, mlp_ratio=4,
                                      norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), num_heads=heads,
                                      patch_size=patch, qkv_bias=True, use_rel_pos=True,
                                      global_attn_indexes=(depth - 1,), window_size=4, out_chans=prompt_dim),
        prompt_encoder=PromptEncoder(embed_dim=prompt_dim, image_embedding_size=(grid, grid),
                                     input_image_size=(img_size, img_size), mask_in_chans=16),
        mask_decoder=MaskDecoder(num_multimask_outputs=3,
                                 transformer=TwoWayTransformer(depth=2, embedding_dim=prompt_dim, mlp_dim=64,
                                                               num_heads=8),
                                 transformer_dim=prompt_dim, iou_head_depth=3, iou_head_hidden_dim=32),
    )
    # Random, non-zero relative position tables (SAM initialises them to zero), so the test sees them load.
    with torch.no_grad():
        for name, param in sam.named_parameters():
            if "rel_pos" in name:
                param.normal_(0, 0.02)
    return sam.eval()


def save_tiny_sam(path: Path, seed: int = 0, **kw) -> Path:
    import torch

    torch.save(build_tiny_sam(seed, **kw).state_dict(), path)
    return path


def photo(width: int = 320, height: int = 240, seed: int = 0) -> np.ndarray:
    """A synthetic photo: a textured background with a bright disc and a dark square."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    img = np.stack([xx * 255 / width, yy * 255 / height, np.full_like(xx, 90.0)], axis=2)
    img += rng.normal(0, 8, img.shape)
    disc = (xx - width * 0.35) ** 2 + (yy - height * 0.5) ** 2 < (min(width, height) * 0.2) ** 2
    img[disc] = (240, 230, 60)
    img[int(height * 0.2) : int(height * 0.5), int(width * 0.65) : int(width * 0.85)] = (20, 20, 120)
    return np.clip(img, 0, 255).astype(np.uint8)


def save_photo(path: Path, width: int = 320, height: int = 240, seed: int = 0) -> Path:
    from PIL import Image

    Image.fromarray(photo(width, height, seed)).save(path)
    return path
