"""Opening photos for segmentation: decode to RGB (app.core.imageio), hash the pixels, list a folder, make
display copies."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.core import imageio
from app.core.errors import UserError
from app.core.imageio import IMAGE_SUFFIXES


@dataclass
class LoadedImage:
    """A photo opened for segmentation: `rgb` H x W x 3 uint8 (C-contiguous), `key` its pixel hash (`pixel_hash`, the
    embedding cache key's image part), `path` the source file (None for a pasted image)."""

    rgb: np.ndarray  # H x W x 3 uint8
    key: str  # hash of the pixels: the embedding cache key's image part
    path: Path | None = None  # None for a pasted image

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)"""
        return int(self.rgb.shape[1]), int(self.rgb.shape[0])

    @property
    def name(self) -> str:
        """The file name, or 'pasted image'."""
        return self.path.name if self.path else "pasted image"


def pixel_hash(rgb: np.ndarray) -> str:
    """32 hex digits: BLAKE2b (16-byte digest) of the array's shape and pixel bytes, so equal pixels give the same key
    whatever the file's name or format."""
    h = hashlib.blake2b(digest_size=16)
    h.update(repr(rgb.shape).encode())
    h.update(np.ascontiguousarray(rgb).data)
    return h.hexdigest()


def from_array(rgb: np.ndarray, path: Path | None = None) -> LoadedImage:
    """A decoded or pasted image (H x W, H x W x 3 or H x W x 4; any numeric dtype, scaled to 8 bits by
    imageio.to_uint8, alpha dropped) as a LoadedImage. UserError for other shapes or above the pixel limit."""
    arr = np.asarray(rgb)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4) or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise UserError(f"Unsupported image shape {arr.shape}: expected height x width x 3 (RGB).")
    imageio.check_pixels(arr.shape[1], arr.shape[0], path.name if path else "The pasted image")
    if arr.shape[2] == 4:
        arr = arr[:, :, :3]
    arr = np.ascontiguousarray(imageio.to_uint8(arr))
    return LoadedImage(arr, pixel_hash(arr), path)


def load_image(path: str | Path) -> LoadedImage:
    """Decode a photo with Hearth's one image loader (app.core.imageio: EXIF rotation, 16-bit and float scaled to
    8 bits, transparency on white) to RGB. UserError for missing, non-image, corrupt or too large files."""
    return from_array(np.asarray(imageio.open_image(path, "RGB")), Path(path))


def folder_images(folder: str | Path) -> list[Path]:
    """Image files directly in `folder` (suffixes of imageio.IMAGE_SUFFIXES, not recursive), sorted by name ignoring
    case. UserError when `folder` is not a directory."""
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
