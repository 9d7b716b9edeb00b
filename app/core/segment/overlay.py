"""Composing the translucent colored overlay (and outline) of the object masks, at screen resolution."""

from __future__ import annotations

import numpy as np


def outline_of(mask: np.ndarray, width: int = 1) -> np.ndarray:
    """Pixels of the mask that touch the background (4-neighbourhood), thickened to `width`."""
    inner = mask.copy()
    for _ in range(max(1, width)):
        shrunk = inner.copy()
        shrunk[1:, :] &= inner[:-1, :]
        shrunk[:-1, :] &= inner[1:, :]
        shrunk[:, 1:] &= inner[:, :-1]
        shrunk[:, :-1] &= inner[:, 1:]
        inner = shrunk
    return mask & ~inner


def compose_overlay(masks: list[tuple[np.ndarray, tuple[int, int, int], bool]], size: tuple[int, int],
                    alpha: float = 0.45, fill: bool = True, outline: bool = True) -> np.ndarray:
    """RGBA (H x W x 4 uint8, premultiplied-free) for masks [(bool mask, color, is_active)] of `size` (w, h).
    The active object is drawn last, with a thicker outline."""
    w, h = size
    out = np.zeros((h, w, 4), dtype=np.uint8)
    a = int(round(255 * alpha))
    for mask, color, active in sorted(masks, key=lambda m: m[2]):
        if mask.shape != (h, w):
            raise ValueError(f"mask shape {mask.shape} does not match the overlay size {(h, w)}")
        if fill:
            out[mask] = (*color, a)
        if outline:
            out[outline_of(mask, 2 if active else 1)] = (*color, 255)
    return out
