"""Images for vision models and CLIP: any photo as 8-bit RGB the right way up, small enough, with bounded memory.

Runs in a job (off the GUI thread). Opening is Hearth's one image loader (app/core/imageio.py: EXIF orientation,
transparency on white, palette / greyscale / CMYK → RGB, 16-bit and float images scaled to 8 bits rather than
clipped, images above its pixel limit refused in a sentence before decoding, one sentence for a file that is not
an image or is damaged). On top of it, this module:
- downscales (Lanczos) so the longest side is at most `max_side` — the projector's input size — never upscaling
  (CLIP: the shorter side, as its processor resizes then crops); a JPEG is decoded at 1/2, 1/4 or 1/8 scale when
  that is still large enough (the loader's draft size);
- encodes the result as PNG for an `image_url` data URL (PreparedImage).
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from pathlib import Path

from app.core import imageio


@dataclass(frozen=True)
class PreparedImage:
    """An image ready for a vision model: PNG bytes of 8-bit RGB.

    size / original_size: (width, height) in pixels after / before preparation (original as displayed, i.e. after
    EXIF rotation)."""

    data: bytes
    size: tuple[int, int]
    original_size: tuple[int, int]
    name: str
    mime: str = "image/png"

    @property
    def data_url(self) -> str:
        """`data:image/png;base64,…`: what llama-cpp-python's handlers and OpenAI-style servers take as image_url."""
        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode('ascii')}"

    @property
    def downscaled(self) -> bool:
        return self.size != self.original_size


def open_rgb(source: str | Path | bytes, max_side: int | None = None, name: str | None = None,
             shortest: bool = False):
    """Decode `source` (a path, or the bytes of a pasted image) to an 8-bit RGB PIL image, EXIF-rotated, with its
    longest side ≤ max_side (None: full size; shortest=True: its shorter side ≤ max_side, for encoders that
    resize the shorter side and crop, like CLIP). Returns (image, original_size). UserError with one sentence
    for a missing file, a folder, a non-image, a damaged file, or one too large to open (imageio.PIXEL_LIMIT)."""
    from PIL import Image

    rgb, original = imageio.read_image(source, "RGB", name, draft=max_side)
    side = min(rgb.size) if shortest else max(rgb.size)
    if max_side and side > max_side:
        scale = max_side / side
        size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
        rgb = rgb.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    return rgb, original


def prepare_image(source: str | Path | bytes, max_side: int | None = None, name: str | None = None) -> PreparedImage:
    """open_rgb, then PNG-encode (lossless, fast compression) for a vision model or an image_url data URL."""
    rgb, original = open_rgb(source, max_side, name)
    buf = io.BytesIO()
    rgb.save(buf, "PNG", compress_level=1)
    label = name or ("pasted image" if isinstance(source, (bytes, bytearray)) else Path(source).name)
    return PreparedImage(data=buf.getvalue(), size=rgb.size, original_size=original, name=label)
