"""One interface over the model families: encode an image once, decode many prompts from the stored features.

- `Sam1Backend`: original Segment Anything checkpoints through `segment_anything` (the photo is resized so its long
  side is the encoder size, then padded to a square: "letterboxed"). Features: the 1 x 256 x 64 x 64 embedding.
- `TransformersBackend`: Hugging Face `transformers` models: SAM 2 / 2.1 (`Sam2Model`), EdgeTAM (`EdgeTamModel`),
  SAM (`SamModel`) and SAM-HQ (`SamHQModel`). The library's own image processor prepares the photo (SAM 2 and EdgeTAM
  stretch it to the square, SAM and SAM-HQ letterbox it). Features are what the mask decoder reads, so a cached
  embedding decodes exactly like a fresh one: for SAM 2 / EdgeTAM the 64 x 64 embedding plus the two high-resolution
  maps (256 x 256 and 128 x 128, already projected by the decoder's conv_s0 / conv_s1), for SAM-HQ the embedding plus
  the ViT's first global-attention output.

Prompt coordinates arrive in the encoder's input frame (`to_input`), as each library's processor computes them.
torch, segment_anything and transformers are imported inside the methods.
"""

from __future__ import annotations

import numpy as np

STRETCH_FAMILIES = ("sam2", "edgetam")  # resized to the square without keeping the aspect ratio


def letterbox_shape(size: tuple[int, int], side: int) -> tuple[int, int]:
    """(h, w) of an image of `size` (H, W) resized so its long side is `side` (SAM's ResizeLongestSide rounding)."""
    h, w = size
    scale = side / max(h, w)
    return int(h * scale + 0.5), int(w * scale + 0.5)


class Sam1Backend:
    """segment_anything's `Sam`: the image encoder, prompt encoder and mask decoder called as SamPredictor does."""

    letterbox = True
    family = "sam1"

    def __init__(self, model, img_size: int, device: str) -> None:
        self.model, self.size, self.device = model, img_size, device

    def blocks(self) -> list:
        """The image encoder's ViT blocks, in order (progress and cancellation hooks run between them)."""
        return list(self.model.image_encoder.blocks)

    def encode(self, rgb: np.ndarray):
        """rgb H x W x 3 uint8 -> ((1 x C x h x w embedding,), (h, w) of the resized image before padding)."""
        import torch
        from segment_anything.utils.transforms import ResizeLongestSide

        resized = ResizeLongestSide(self.size).apply_image(rgb)
        tensor = torch.as_tensor(resized, device=self.device).permute(2, 0, 1).contiguous()[None]
        with torch.inference_mode():
            features = self.model.image_encoder(self.model.preprocess(tensor))
        return (features,), tuple(int(x) for x in tensor.shape[-2:])

    def to_input(self, xy: np.ndarray, original_size: tuple[int, int]) -> np.ndarray:
        """Image pixel coordinates (... x 2, x then y) -> the encoder's input frame, as SamPredictor maps them
        (ResizeLongestSide.apply_coords); `original_size` is (H, W) in pixels."""
        from segment_anything.utils.transforms import ResizeLongestSide

        return ResizeLongestSide(self.size).apply_coords(np.asarray(xy, dtype=np.float64), original_size)

    def decode(self, features, points=None, labels=None, boxes=None, masks=None, multimask: bool = True):
        """points N x P x 2 / labels N x P (input frame), boxes N x 4, masks N x 1 x h x w low-res logits ->
        (N x C x h x w low-res logits, N x C predicted IoU)."""
        import torch

        model = self.model
        with torch.inference_mode():
            sparse, dense = model.prompt_encoder(points=(points, labels) if points is not None else None,
                                                 boxes=boxes, masks=masks)
            return model.mask_decoder(image_embeddings=features[0], image_pe=model.prompt_encoder.get_dense_pe(),
                                      sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense,
                                      multimask_output=multimask)


class TransformersBackend:
    """A `transformers` SAM-family model with its image processor; see the module docstring for the features."""

    def __init__(self, model, image_processor, family: str, size: int, device: str) -> None:
        self.model, self.processor, self.family = model, image_processor, family
        self.size, self.device = size, device
        self.letterbox = family not in STRETCH_FAMILIES

    def blocks(self) -> list:
        """The encoder's blocks, in order (progress and cancellation run between them)."""
        encoder = self.model.vision_encoder
        if self.family == "sam2":
            return list(encoder.backbone.blocks)
        if self.family == "edgetam":  # timm RepViT: the stem and stages of the feature extractor
            return [m for name, m in encoder.backbone.timm_model.named_children()]
        return list(encoder.layers)

    def encode(self, rgb: np.ndarray):
        """rgb H x W x 3 uint8 -> (features, (h, w) of the image as the encoder saw it, pixels). `features`: torch
        tensors on the device, the 1 x C x h x w embedding first, then the family's extra maps (see the module
        docstring); SAM 2 / EdgeTAM stretch, so (h, w) is (size, size)."""
        import torch

        rgb = rgb if rgb.flags.writeable else rgb.copy()  # decoded photos are read-only; torch warns about those
        inputs = self.processor(images=rgb, return_tensors="pt")
        pixels = inputs["pixel_values"].to(self.device)
        with torch.inference_mode():
            out = self.model.get_image_embeddings(pixels)
        if self.family in STRETCH_FAMILIES:  # [high-res s0, high-res s1, embedding]
            features = (out[-1], *out[:-1])
            input_size = (self.size, self.size)
        else:
            features = (out[0], out[1][0]) if self.family == "sam_hq" else (out,)
            input_size = tuple(int(x) for x in inputs["reshaped_input_sizes"][0])
        return features, input_size

    def to_input(self, xy: np.ndarray, original_size: tuple[int, int]) -> np.ndarray:
        """Image pixels -> the encoder's input frame, as SamProcessor / Sam2Processor normalise coordinates."""
        h, w = original_size
        new_h, new_w = letterbox_shape(original_size, self.size) if self.letterbox else (self.size, self.size)
        out = np.array(xy, dtype=np.float64, copy=True)
        out[..., 0] *= new_w / w
        out[..., 1] *= new_h / h
        return out

    def _embeddings(self, features) -> dict:
        if self.family in STRETCH_FAMILIES:
            return {"image_embeddings": [*features[1:], features[0]]}
        if self.family == "sam_hq":
            return {"image_embeddings": features[0], "intermediate_embeddings": [features[1]]}
        return {"image_embeddings": features[0]}

    def decode(self, features, points=None, labels=None, boxes=None, masks=None, multimask: bool = True):
        """Same shapes as `Sam1Backend.decode`; the model's forward with `image_embeddings` (no encoder run)."""
        import torch

        kwargs = self._embeddings(features)
        with torch.inference_mode():
            out = self.model(input_points=None if points is None else points[None],
                             input_labels=None if labels is None else labels[None],
                             input_boxes=None if boxes is None else boxes[None], input_masks=masks,
                             multimask_output=multimask, **kwargs)
        return out.pred_masks[0], out.iou_scores[0]
