"""Images for vision models: open any photo as 8-bit RGB the right way up, small enough, with bounded memory.

Runs in a job (off the GUI thread). What it does to a photo:
- EXIF orientation applied (a portrait phone photo is not sent sideways);
- transparency composited on white; palette, greyscale, CMYK → RGB; 16-bit and float greyscale scaled to 8-bit
  (not clipped, which would turn a 16-bit scan white);
- downscaled (Lanczos) so the longest side is at most `max_side` — the projector's input size — never upscaled;
  JPEGs are decoded at 1/2, 1/4 or 1/8 scale when that is still large enough (Pillow's draft mode);
- refused with a sentence when decoding it would need more than MAX_DECODE_BYTES, when Pillow's own
  decompression-bomb limit (about 179 megapixels) trips, or when the file is not an image or is damaged.

`to_rgb8` is the one place that turns a decoded image of any mode into 8-bit RGB; a shared loader elsewhere in
Hearth can replace its body without changing callers.
"""

from __future__ import annotations

import base64
import io
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.core.errors import UserError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif")
MAX_DECODE_BYTES = 512 * 2**20  # decoded pixels held at once before downscaling
_BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "LA": 2, "PA": 2, "La": 2, "I;16": 2, "I;16B": 2, "I;16L": 2,
                    "I;16N": 2, "RGB": 3, "YCbCr": 3, "LAB": 3, "HSV": 3, "RGBA": 4, "RGBa": 4, "CMYK": 4,
                    "I": 4, "F": 4}


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


def to_rgb8(im):
    """Any decoded PIL image → 8-bit RGB (see module doc). Returns a new image; `im` may be closed after."""
    from PIL import Image

    mode = im.mode
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if mode.startswith("I") or mode == "F":
        arr = np.asarray(im)
        if arr.dtype.kind == "f":
            finite = np.nan_to_num(arr.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
            low, high = float(finite.min(initial=0.0)), float(finite.max(initial=0.0))
            if low >= 0.0 and high <= 1.0:
                scaled = finite * 255.0
            else:
                scaled = (finite - low) * (255.0 / (high - low)) if high > low else np.zeros_like(finite)
        else:
            values = arr.astype(np.int64)
            top = int(values.max(initial=0))
            bits16 = mode.startswith("I;16") or 255 < top <= 65535
            if bits16:
                scaled = values * 255.0 / 65535.0
            elif top > 65535:
                scaled = np.clip(values, 0, None) * (255.0 / top)
            else:
                scaled = values.astype(np.float64)
        grey = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    return im.convert("RGB")


def open_rgb(source: str | Path | bytes, max_side: int | None = None, name: str | None = None,
             shortest: bool = False):
    """Decode `source` (a path, or the bytes of a pasted image) to an 8-bit RGB PIL image, EXIF-rotated, with its
    longest side ≤ max_side (None: full size; shortest=True: its shorter side ≤ max_side, for encoders that
    resize the shorter side and crop, like CLIP). Returns (image, original_size). UserError with one sentence
    for a missing file, a folder, a non-image, a damaged file, or one too large to decode in bounded memory."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own byte limit applies below
    if isinstance(source, (bytes, bytearray)):
        name = name or "pasted image"
        fh = io.BytesIO(source)
    else:
        path = Path(source)
        name = name or path.name
        if not path.exists():
            raise UserError(f"Image not found: {path}")
        if path.is_dir():
            raise UserError(f"{path} is a folder, not an image.")
        fh = path
    try:
        with Image.open(fh) as im:
            width, height = im.size
            if max_side and im.format == "JPEG":
                im.draft("RGB", (max_side, max_side))
            need = im.size[0] * im.size[1] * _BYTES_PER_PIXEL.get(im.mode, 4)
            if need > MAX_DECODE_BYTES:
                raise UserError(_too_large(name, width, height))
            orientation = im.getexif().get(0x0112, 1)
            rotated = ImageOps.exif_transpose(im)
            rgb = to_rgb8(rotated)
    except UserError:
        raise
    except Image.DecompressionBombError as exc:
        raise UserError(_bomb_message(name, exc)) from None
    except UnidentifiedImageError:
        raise UserError(f"{name} is not an image Hearth can read (JPEG, PNG, WebP, BMP, TIFF or GIF).") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise UserError(f"{name} could not be decoded: the file looks damaged or truncated ({exc}).") from None
    original = (height, width) if orientation in (5, 6, 7, 8) else (width, height)
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


def _too_large(name: str, width: int, height: int) -> str:
    return (f"{name} is {width}×{height} pixels ({width * height / 1e6:.0f} megapixels): too large to open "
            "safely. Save a smaller copy (under about 100 megapixels) and use that.")


def _bomb_message(name: str, exc: Exception) -> str:
    """Pillow refused before reading the size for us; its message holds the pixel count."""
    match = re.search(r"\((\d+) pixels\)", str(exc))
    mp = f" ({int(match.group(1)) / 1e6:.0f} megapixels)" if match else ""
    return (f"{name} is too large to open safely{mp}. Save a smaller copy (under about 100 megapixels) "
            "and use that.")
