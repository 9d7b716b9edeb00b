"""Exports: binary PNG mask, RGBA cut-out, COCO JSON with RLE (pycocotools), labelme polygons (OpenCV contours).
Each writer is atomic (temporary file, then rename) so a failure never leaves half a file behind."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from app.core.errors import UserError

LABELME_VERSION = "5.4.1"


def _atomic(path: Path, write) -> Path:
    path = Path(path)
    if path.parent and not path.parent.exists():
        raise UserError(f"Folder does not exist: {path.parent}")
    fd, tmp = tempfile.mkstemp(prefix=".hearth-", suffix=path.suffix or ".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except PermissionError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise UserError(f"Cannot write {path}: permission denied.") from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _check(mask: np.ndarray) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"a mask is 2-D, got shape {mask.shape}")
    return mask.astype(bool, copy=False)


def save_mask_png(mask: np.ndarray, path: str | Path) -> Path:
    """Black background (0), white object (255), same size as the photo."""
    from PIL import Image

    img = Image.fromarray(_check(mask).astype(np.uint8) * 255, mode="L")
    return _atomic(Path(path), lambda tmp: img.save(tmp, format="PNG"))


def cutout(rgb: np.ndarray, mask: np.ndarray, crop: bool = False) -> np.ndarray:
    """RGBA: the photo where the mask is, transparent elsewhere; optionally cropped to the object's box."""
    mask = _check(mask)
    if mask.shape != rgb.shape[:2]:
        raise ValueError("mask and image sizes differ")
    rgba = np.dstack([rgb, mask.astype(np.uint8) * 255])
    if crop and mask.any():
        ys, xs = np.nonzero(mask)
        rgba = rgba[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    return rgba


def save_cutout(rgb: np.ndarray, mask: np.ndarray, path: str | Path, crop: bool = False) -> Path:
    from PIL import Image

    img = Image.fromarray(cutout(rgb, mask, crop), mode="RGBA")
    return _atomic(Path(path), lambda tmp: img.save(tmp, format="PNG"))


def rle_encode(mask: np.ndarray) -> dict:
    """COCO RLE {"size": [h, w], "counts": str} of a binary mask."""
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(_check(mask).astype(np.uint8)))
    rle["counts"] = rle["counts"].decode("ascii")
    return rle


def rle_decode(rle: dict) -> np.ndarray:
    from pycocotools import mask as mask_utils

    rle = dict(rle)
    if isinstance(rle.get("counts"), str):
        rle["counts"] = rle["counts"].encode("ascii")
    return mask_utils.decode(rle).astype(bool)


def coco_document(objects: list[tuple[str, np.ndarray, float | None]], image_name: str,
                  size: tuple[int, int]) -> dict:
    """COCO instance-segmentation JSON for one image; objects are (label, mask, predicted IoU or None).
    Categories are the distinct labels, in order of first use."""
    from pycocotools import mask as mask_utils

    w, h = size
    categories: dict[str, int] = {}
    annotations = []
    for n, (label, mask, iou) in enumerate(objects, start=1):
        mask = _check(mask)
        if mask.shape != (h, w):
            raise ValueError(f"mask {n} is {mask.shape[::-1]}, image is {size}")
        cat = categories.setdefault(label, len(categories) + 1)
        rle = rle_encode(mask)
        coded = dict(rle, counts=rle["counts"].encode("ascii"))
        ann = {"id": n, "image_id": 1, "category_id": cat, "segmentation": rle,
               "area": int(mask_utils.area(coded)), "bbox": [float(v) for v in mask_utils.toBbox(coded)],
               "iscrowd": 0}
        if iou is not None:
            ann["score"] = round(float(iou), 4)
        annotations.append(ann)
    return {
        "info": {"description": "Exported by Hearth (Segment Anything)"},
        "images": [{"id": 1, "file_name": image_name, "width": w, "height": h}],
        "annotations": annotations,
        "categories": [{"id": i, "name": name, "supercategory": "object"} for name, i in categories.items()],
    }


def save_coco(objects, image_name: str, size: tuple[int, int], path: str | Path) -> Path:
    doc = coco_document(objects, image_name, size)
    return _atomic(Path(path), lambda tmp: tmp.write_text(json.dumps(doc), encoding="utf-8"))


def mask_polygons(mask: np.ndarray, tolerance: float = 1.0, min_area: float = 4.0) -> list[list[list[float]]]:
    """Outer contours of the mask's regions as polygons [[x, y], ...], simplified by `tolerance` pixels."""
    import cv2

    mask = _check(mask).astype(np.uint8)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    polygons = []
    for contour in contours:
        if cv2.contourArea(contour) < min_area:
            continue
        approx = cv2.approxPolyDP(contour, tolerance, True) if tolerance > 0 else contour
        if len(approx) < 3:
            continue
        polygons.append([[float(x), float(y)] for x, y in approx.reshape(-1, 2)])
    return polygons


def labelme_document(objects: list[tuple[str, np.ndarray]], image_path: str, size: tuple[int, int]) -> dict:
    """labelme JSON: one polygon shape per region; the regions of one object share a group_id."""
    w, h = size
    shapes = []
    for group, (label, mask) in enumerate(objects, start=1):
        polys = mask_polygons(mask)
        for poly in polys:
            shapes.append({"label": label, "points": poly, "group_id": group if len(polys) > 1 else None,
                           "description": "", "shape_type": "polygon", "flags": {}, "mask": None})
    return {"version": LABELME_VERSION, "flags": {}, "shapes": shapes, "imagePath": image_path,
            "imageData": None, "imageHeight": h, "imageWidth": w}


def save_labelme(objects, image_path: str, size: tuple[int, int], path: str | Path) -> Path:
    doc = labelme_document(objects, image_path, size)
    return _atomic(Path(path), lambda tmp: tmp.write_text(json.dumps(doc, indent=1), encoding="utf-8"))
