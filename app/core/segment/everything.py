"""Segment everything: SAM's automatic mask generator on an embedding Hearth already has (cached or fresh).

The algorithm of Segment Anything's `SamAutomaticMaskGenerator` (Kirillov et al. 2023, one crop layer; SAM 2's
generator and transformers' "mask-generation" pipeline are the same): a regular grid of positive points, three
candidate masks per point, keep candidates whose predicted IoU and stability score (the IoU of the mask thresholded
at logit +offset and -offset) pass their thresholds, remove duplicates by non-maximum suppression on the boxes
(score = predicted IoU), then drop masks smaller than a minimum area. Grid, stability score and boxes come from
segment_anything.utils.amg, NMS from torchvision.

Unlike the library generators, masks are scored at most at the encoder's resolution (the long side of the encoder
input, 1024 px for the released models) instead of the photo's: on a 24-megapixel photo that is 20x less memory and
time, and on a photo no larger than that it is exactly the libraries' computation. Every kept object is a
`Prediction` (its low-resolution logits), scaled to the photo only when shown or exported. Cancellable between
batches of points; progress per batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.core.segment.predictor import Embedding, Prediction, SegmentEngine

CHUNK = 32  # masks scaled up at once


@dataclass(frozen=True)
class EverythingParams:
    """Settings of the automatic mask generator; names and defaults follow segment-anything's SamAutomaticMaskGenerator
    (Kirillov et al. 2023): grid side and batch in points, predicted-IoU and stability thresholds (0..1), the stability
    score's logit offset, box-NMS IoU threshold. `min_area` (photo pixels) drops whole masks, unlike the library's
    min_mask_region_area post-processing."""

    points_per_side: int = 32  # the grid is points_per_side x points_per_side
    points_per_batch: int = 64  # points decoded together (memory grows with it)
    pred_iou_thresh: float = 0.88  # keep masks whose predicted IoU is above this
    stability_score_thresh: float = 0.95  # ... and whose stability score is at least this
    stability_score_offset: float = 1.0  # logit offset of the stability score
    box_nms_thresh: float = 0.7  # box IoU above which the lower-scored of two masks is a duplicate
    min_area: int = 100  # photo pixels; smaller masks are dropped (0 keeps all)


@dataclass
class FoundObject:
    """One object `segment_everything` found: its `prediction` (one candidate: 1 x h x w low-res logits and predicted
    IoU), the grid `point` (x, y) that found it, its `box` (x0, y0, x1, y1; x1, y1 exclusive) and `area`, all in photo
    pixels, and its `stability` score (0..1)."""

    prediction: Prediction  # one candidate (index 0): low-res logits and predicted IoU
    point: tuple[float, float]  # the grid point (photo pixels) that found it
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in photo pixels
    area: int  # photo pixels
    stability: float


def work_size(emb: Embedding) -> tuple[int, int]:
    """(width, height) at which masks are scored: the photo, shrunk so its long side is at most the encoder's."""
    h, w = emb.original_size
    scale = min(1.0, emb.sam.arch.img_size / max(h, w))
    return max(1, round(w * scale)), max(1, round(h * scale))


def segment_everything(engine: SegmentEngine, emb: Embedding, params: EverythingParams = EverythingParams(),
                       state=None) -> list[FoundObject]:
    """Every object SAM finds in the photo, largest first. `state`: progress per batch, cancellation between
    batches (JobCancelled)."""
    import torch
    from segment_anything.utils.amg import batched_mask_to_box, build_point_grid, calculate_stability_score
    from torchvision.ops import batched_nms

    H, W = emb.original_size
    ww, wh = work_size(emb)
    scale = (W / ww) * (H / wh)  # photo pixels per work pixel (area)
    template = Prediction(np.zeros((1, 1, 1), np.float32), np.zeros(1, np.float32), (H, W), emb.input_size,
                          emb.sam.arch.img_size, letterbox=emb.sam.backend.letterbox)
    grid = build_point_grid(params.points_per_side) * np.array([[W, H]])
    batches = [grid[i : i + params.points_per_batch] for i in range(0, len(grid), params.points_per_batch)]
    kept = {"logits": [], "iou": [], "stability": [], "boxes": [], "areas": [], "points": []}
    for n, points in enumerate(batches):
        if state is not None:
            state.check()
            state.progress(n / len(batches), f"Finding objects ({n * params.points_per_batch} of {len(grid)} points)")
        low_res, iou = engine.decode_points(emb, points)
        with torch.inference_mode():
            low_res, iou = low_res.flatten(0, 1).float().cpu(), iou.flatten(0, 1).float().cpu()
            where = np.repeat(points, low_res.shape[0] // len(points), axis=0)
            keep = iou > params.pred_iou_thresh if params.pred_iou_thresh > 0 else \
                torch.ones_like(iou, dtype=torch.bool)
            low_res, iou, where = low_res[keep], iou[keep], where[keep.numpy()]
            if not len(iou):
                continue
            for chunk in range(0, len(iou), CHUNK):  # bounded memory: CHUNK full-size float masks at a time
                part = slice(chunk, chunk + CHUNK)
                logits = template.upscale(low_res[part, None], (ww, wh))[:, 0]
                stability = calculate_stability_score(logits, 0.0, params.stability_score_offset)
                keep = stability >= params.stability_score_thresh if params.stability_score_thresh > 0 else \
                    torch.ones_like(stability, dtype=torch.bool)
                masks = logits[keep] > 0.0
                kept["logits"].append(low_res[part][keep])
                kept["iou"].append(iou[part][keep])
                kept["stability"].append(stability[keep])
                kept["boxes"].append(batched_mask_to_box(masks).float())
                kept["areas"].append(masks.sum((-1, -2)))
                kept["points"].append(where[part][keep.numpy()])
                del logits, masks
    if state is not None:
        state.check()
        state.progress(1.0, "Removing duplicates")
    if not kept["iou"]:
        return []
    data = {k: (np.concatenate(v) if k == "points" else torch.cat(v)) for k, v in kept.items()}
    order = batched_nms(data["boxes"], data["iou"], torch.zeros(len(data["iou"])), params.box_nms_thresh).numpy()
    found = []
    for i in order:
        area = int(round(float(data["areas"][i]) * scale))
        if area < params.min_area or area == 0:
            continue
        x0, y0, x1, y1 = (float(v) for v in data["boxes"][i])
        box = (x0 * W / ww, y0 * H / wh, (x1 + 1) * W / ww, (y1 + 1) * H / wh)
        pred = Prediction(data["logits"][i][None].numpy(), data["iou"][i : i + 1].numpy(), (H, W), emb.input_size,
                          emb.sam.arch.img_size, letterbox=emb.sam.backend.letterbox)
        px, py = data["points"][i]
        found.append(FoundObject(pred, (float(px), float(py)), box, area, float(data["stability"][i])))
    found.sort(key=lambda o: -o.area)
    return found
