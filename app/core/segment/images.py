"""Opening photos for segmentation: decode to RGB, hash the pixels, list a folder, make display copies."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.core.errors import UserError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif")
MAX_PIXELS = 200_000_000  # refuse absurd sizes instead of exhausting memory


@dataclass
class LoadedImage:
    rgb: np.ndarray  # H x W x 3 uint8
    key: str  # hash of the pixels: the embedding cache key's image part
    path: Path | None = None  # None for a pasted image

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)"""
        return int(self.rgb.shape[1]), int(self.rgb.shape[0])

    @property
    def name(self) -> str:
        return self.path.name if self.path else "pasted image"


def pixel_hash(rgb: np.ndarray) -> str:
    h = hashlib.blake2b(digest_size=16)
    h.update(repr(rgb.shape).encode())
    h.update(np.ascontiguousarray(rgb).data)
    return h.hexdigest()


def from_array(rgb: np.ndarray, path: Path | None = None) -> LoadedImage:
    arr = np.asarray(rgb)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4) or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise UserError(f"Unsupported image shape {arr.shape}: expected height x width x 3 (RGB).")
    if arr.shape[2] == 4:
        arr = arr[:, :, :3]
    if arr.dtype != np.uint8:
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    arr = np.ascontiguousarray(arr)
    return LoadedImage(arr, pixel_hash(arr), path)


def load_image(path: str | Path) -> LoadedImage:
    """Decode a photo (EXIF rotation applied) to RGB. UserError for missing, non-image or corrupt files."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    if not path.exists():
        raise UserError(f"Image not found: {path}")
    if path.is_dir():
        raise UserError(f"{path} is a folder, not an image.")
    try:
        with Image.open(path) as im:
            if im.width * im.height > MAX_PIXELS:
                raise UserError(f"{path.name} is {im.width}x{im.height}: too large to segment (limit 200 megapixels).")
            im = ImageOps.exif_transpose(im)
            if im.mode in ("RGBA", "LA", "P"):
                im = im.convert("RGBA")
                background = Image.new("RGBA", im.size, (255, 255, 255, 255))
                im = Image.alpha_composite(background, im)
            rgb = np.asarray(im.convert("RGB"))
    except UnidentifiedImageError as exc:
        raise UserError(f"{path.name} is not an image Hearth can read (JPEG, PNG, WebP, BMP, TIFF).") from exc
    except UserError:
        raise
    except (OSError, SyntaxError, ValueError) as exc:
        raise UserError(f"{path.name} could not be decoded: the file looks damaged or truncated ({exc}).") from exc
    return from_array(rgb, path)


def folder_images(folder: str | Path) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"Not a folder: {folder}")
    return sorted((p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES),
                  key=lambda p: p.name.lower())


def display_copy(rgb: np.ndarray, max_side: int = 2048) -> tuple[np.ndarray, float]:
    """A downsampled copy for the screen and the display scale (display px per image px, <= 1)."""
    h, w = rgb.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if scale >= 1.0:
        return rgb, 1.0
    import cv2

    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), size[0] / w
