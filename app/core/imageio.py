"""Opening images one way everywhere: Segment (open, folder, paste), Images (starting image, mask, control image,
dropped PNGs), vision chat and CLIP (app/core/vision/images.py) and the `hearth image` / `hearth segment` /
`hearth clip` commands. A source is a file path or the bytes of an image (a pasted one).

Callers get 8-bit pixels the right way up, or a UserError with one sentence:

- EXIF orientation is applied (a portrait photo from a phone stays portrait);
- 16-bit greyscale (PNG and TIFF, Pillow mode "I;16") is scaled 0–65535 → 0–255 and 32-bit integer images by the
  bit depth the file declares (Pillow's own `convert("L")` clips them, so most 16-bit images came out white);
  floating-point images are scaled from 0–1 (from their own range when their values lie outside it);
  16-bit RGB(A) PNG/TIFF Pillow reduces to 8 bits itself; RGB float TIFFs, which Pillow cannot read, go through
  OpenCV;
- palette, LA and RGBA images are flattened onto a background (white for photos, black for masks); CMYK (through
  its ICC profile when it has one), YCbCr, LAB, HSV and 1-bit images are converted;
- an image whose header declares more than PIXEL_LIMIT pixels is refused before any pixel is decoded, so memory
  stays bounded and Pillow's DecompressionBombError never reaches the user;
- a caller that will downscale (vision models, CLIP) may ask for a `draft` size: a JPEG is then decoded at 1/2, 1/4
  or 1/8 scale while both sides stay at least that large (Pillow's draft mode), and the limit applies to the
  pixels actually decoded.
"""

from __future__ import annotations

import io
import re
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from app.core.errors import UserError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif")
READABLE = "JPEG, PNG, WebP, BMP, TIFF"
DIALOG_FILTER = "Images (" + " ".join(f"*{s}" for s in IMAGE_SUFFIXES) + ")"  # for file dialogs
# Pillow refuses images above 2 x Image.MAX_IMAGE_PIXELS (DecompressionBombError); Hearth uses the same figure
# (179 megapixels: 537 MB as 8-bit RGB) and says so in a sentence.
PIXEL_LIMIT = 2 * (1024 * 1024 * 1024 // 4 // 3)

# EXIF orientation → PIL transpose method (the table ImageOps.exif_transpose uses), by name to stay Pillow-free here.
_ORIENTATION = {2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM", 5: "TRANSPOSE", 6: "ROTATE_270",
                7: "TRANSVERSE", 8: "ROTATE_90"}


class NotAnImage(UserError):
    """The file is not in a format Pillow recognises."""


def too_large_message(name: str, pixels: int, size: tuple[int, int] | None = None) -> str:
    dims = f"{size[0]}×{size[1]} pixels, " if size else ""
    return (f"{name} is too large to open ({dims}{pixels / 1e6:.0f} megapixels; Hearth opens images up to "
            f"{PIXEL_LIMIT / 1e6:.0f} megapixels): scale it down in an image editor first.")


def check_pixels(width: int, height: int, name: str) -> None:
    """UserError when width x height exceeds PIXEL_LIMIT."""
    if int(width) * int(height) > PIXEL_LIMIT:
        raise UserError(too_large_message(name, int(width) * int(height), (int(width), int(height))))


def _quiet_pillow() -> None:
    """Hearth enforces its own limit with a sentence; Pillow's DecompressionBombWarning (images between its two
    thresholds, for example a 100-megapixel photo) would only print a raw warning on the console."""
    import warnings

    from PIL import Image

    warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


def _existing(path) -> Path:
    path = Path(path)
    if not path.exists():
        raise UserError(f"Image not found: {path}.")
    if path.is_dir():
        raise UserError(f"{path} is a folder, not an image.")
    return path


@contextmanager
def opened(source, name: str | None = None, draft: int | None = None):
    """Pillow's Image.open with Hearth's checks: the pixel limit read from the header, and one-sentence errors
    (UserError; NotAnImage for an unknown format) for everything that goes wrong while the file is open.
    `source`: a path, or an image's bytes (called `name`, default "pasted image"); `draft`: see the module notes."""
    with _opened(source, name, draft) as (im, _size):
        yield im


@contextmanager
def _opened(source, name: str | None, draft: int | None):
    """opened(), also yielding the size (width, height) the file declares, before any draft reduction."""
    from PIL import Image, UnidentifiedImageError

    if isinstance(source, (bytes, bytearray)):
        name, fh = name or "pasted image", io.BytesIO(source)
    else:
        fh = _existing(source)
        name = name or fh.name
    _quiet_pillow()
    try:
        with Image.open(fh) as im:
            size = im.size
            if draft and im.format == "JPEG":
                im.draft(im.mode, (draft, draft))  # scale 1/2..1/8 while both sides stay >= draft
            check_pixels(im.width, im.height, name)
            yield im, size
    except UserError:
        raise
    except UnidentifiedImageError:
        raise NotAnImage(f"{name} is not an image Hearth can read ({READABLE}).") from None
    except Image.DecompressionBombError as exc:  # Pillow's limit lowered below Hearth's, or a frame beyond it
        found = re.search(r"\((\d+) pixels\)", str(exc))
        raise UserError(too_large_message(name, int(found.group(1)) if found else PIXEL_LIMIT + 1)) from None
    except MemoryError:
        raise UserError(f"{name} is too large to open in the memory available.") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise UserError(f"{name} could not be decoded: the file looks damaged or truncated ({exc}).") from None


def open_image(source, mode: str = "RGB", name: str | None = None):
    """The image at `source` (a path, or an image's bytes called `name`) as an 8-bit PIL image in `mode` ("RGB"
    or "L"), EXIF orientation applied, pixels loaded (the file is closed again). Transparent parts lie on white
    ("RGB") or black ("L": a mask keeps them).

    Raises UserError: missing file, a folder, not an image, damaged, above PIXEL_LIMIT."""
    return read_image(source, mode, name)[0]


def read_image(source, mode: str = "RGB", name: str | None = None, draft: int | None = None):
    """open_image with a `draft` size (module notes), also returning the picture's full size (width, height) as
    shown, EXIF orientation applied, whatever the draft decoded. Returns (PIL image, (width, height))."""
    try:
        with _opened(source, name, draft) as (im, (width, height)):
            drafted = im.size != (width, height)
            im.load()  # decode now, while the file is open (to_8bit may hand back the file's own image)
            orientation = _orientation(im)  # after load: Pillow turns TIFFs itself and then drops their tag
            image = _upright(to_8bit(im, mode), orientation)
            if not drafted:
                return image, image.size
            return image, (height, width) if orientation in (5, 6, 7, 8) else (width, height)
    except NotAnImage:
        if isinstance(source, (bytes, bytearray)) or Path(source).suffix.lower() not in (".tif", ".tiff"):
            raise
        image = _open_tiff_with_opencv(Path(source), mode)
        return image, image.size


def read_frames(source, mode: str = "RGB", name: str | None = None):
    """Every frame of an image file (the pages of a multi-page TIFF; one frame for most files), decoded one at a
    time as open_image decodes a picture (8-bit `mode`, EXIF orientation applied, PIXEL_LIMIT checked per frame).
    Yields (index, count, PIL image); raises UserError as open_image does."""
    try:
        with _opened(source, name, None) as (im, _size):
            count = max(1, int(getattr(im, "n_frames", 1) or 1))
            for index in range(count):
                if index:
                    im.seek(index)
                    check_pixels(im.width, im.height, name or Path(str(source)).name)
                im.load()
                image = _upright(to_8bit(im, mode), _orientation(im))
                yield index, count, image.copy() if image is im else image
    except NotAnImage:
        if isinstance(source, (bytes, bytearray)) or Path(source).suffix.lower() not in (".tif", ".tiff"):
            raise
        yield 0, 1, _open_tiff_with_opencv(Path(source), mode)


def _orientation(im) -> int:
    try:
        return int(im.getexif().get(0x0112, 1) or 1)
    except Exception:  # noqa: BLE001 - a damaged EXIF block: show the pixels as stored
        return 1


def _upright(im, orientation: int):
    from PIL import Image

    method = _ORIENTATION.get(orientation)
    return im.transpose(getattr(Image.Transpose, method)) if method else im


def to_uint8(arr: np.ndarray, maxval: float | None = None) -> np.ndarray:
    """Pixels of any numeric dtype as uint8, scaled rather than clipped.

    uint8 stays as is; `maxval` given: 0..maxval → 0..255; uint16: 0..65535; other integers: as is when within
    0..255, else 0..65535 when within it, else their own min..max; floats: 0..1 when within it, as is within
    0..255, else their own min..max (NaN → 0); bool: 0 / 255."""
    arr = np.asarray(arr)
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == bool:
        return arr.astype(np.uint8) * 255
    if arr.size == 0:
        return arr.astype(np.uint8)
    if arr.dtype.kind == "f":
        data = np.nan_to_num(arr.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        finite = np.isfinite(arr)
        lo, hi = (float(data[finite].min()), float(data[finite].max())) if finite.any() else (0.0, 1.0)
        data = np.where(finite, data, lo)
        if lo >= 0.0 and hi <= 1.0:
            scaled = data * 255.0
        elif lo >= 0.0 and hi <= 255.0:
            scaled = data
        else:
            scaled = (data - lo) * (255.0 / max(hi - lo, 1e-12))
    elif arr.dtype.kind in "ui":
        data = arr.astype(np.float64)
        lo, hi = float(data.min()), float(data.max())
        if maxval is None:
            if arr.dtype == np.uint16 or (lo >= 0 and 255 < hi <= 65535):
                maxval = 65535.0
            elif lo >= 0 and hi <= 255:
                maxval = 255.0
        if maxval is None:
            scaled = (data - lo) * (255.0 / max(hi - lo, 1.0))
        else:
            scaled = data * (255.0 / float(maxval))
    else:
        raise UserError(f"Unsupported pixel type {arr.dtype}.")
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def _declared_max(im) -> float | None:
    """The largest value a high-bit-depth integer image can hold, from its mode or the bit depth it declares."""
    if im.mode.startswith("I;16"):
        return 65535.0
    if im.mode == "I":
        tags = getattr(im, "tag_v2", None)  # TIFF: BitsPerSample
        bits = tags.get(258) if tags is not None else None
        if isinstance(bits, tuple):
            bits = bits[0] if bits else None
        if bits:
            return float(2 ** int(bits) - 1)
        if im.format == "PNG":  # older Pillow opened 16-bit greyscale PNGs as "I"
            return 65535.0
    return None


def to_8bit(im, mode: str = "RGB"):
    """An opened PIL image as an 8-bit image in `mode` ("RGB" or "L"); see the module notes for each source mode."""
    from PIL import Image

    if im.mode in ("I", "F") or im.mode.startswith("I;16"):
        im = Image.fromarray(to_uint8(np.asarray(im), _declared_max(im)), "L")
    elif im.mode == "1":
        im = im.convert("L")
    elif im.mode in ("P", "PA"):
        im = im.convert("RGBA" if im.mode == "PA" or "transparency" in im.info else "RGB")
    elif im.mode == "CMYK":
        im = _cmyk_to_rgb(im)
    elif im.mode == "LAB":
        from PIL import ImageCms

        im = ImageCms.applyTransform(im, ImageCms.buildTransform(ImageCms.createProfile("LAB"),
                                                                 ImageCms.createProfile("sRGB"), "LAB", "RGB"))
    if im.mode in ("LA", "La", "RGBA", "RGBa", "PA"):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255) if mode == "RGB" else (0, 0, 0, 255))
        im = Image.alpha_composite(background, rgba)
    return im if im.mode == mode else im.convert(mode)


def _cmyk_to_rgb(im):
    """CMYK through the image's own ICC profile when it carries one (print files do), else Pillow's formula."""
    profile = im.info.get("icc_profile")
    if profile:
        try:
            import io

            from PIL import ImageCms

            return ImageCms.profileToProfile(im, ImageCms.ImageCmsProfile(io.BytesIO(profile)),
                                             ImageCms.createProfile("sRGB"), outputMode="RGB")
        except Exception:  # noqa: BLE001 - a broken profile: fall back to the plain conversion
            pass
    return im.convert("RGB")


def _tiff_header(path: Path) -> tuple[int, int, int]:
    """(width, height, orientation) from a TIFF's first directory, without decoding pixels."""
    from PIL import TiffImagePlugin

    with open(path, "rb") as fh:
        ifh = fh.read(8)
        if len(ifh) == 8 and ifh[2] == 43:  # BigTIFF: 16-byte header
            ifh += fh.read(8)
        ifd = TiffImagePlugin.ImageFileDirectory_v2(ifh)
        fh.seek(ifd.next)
        ifd.load(fh)
    return int(ifd[256]), int(ifd[257]), int(ifd.get(274, 1) or 1)


def _open_tiff_with_opencv(path: Path, mode: str):
    """TIFFs Pillow cannot decode (RGB floating point, for one) through OpenCV, after the same size check."""
    from PIL import Image

    not_readable = NotAnImage(f"{path.name} is not an image Hearth can read ({READABLE}).")
    try:
        width, height, orientation = _tiff_header(path)
    except Exception:  # noqa: BLE001 - not a TIFF after all
        raise not_readable from None
    check_pixels(width, height, path.name)
    import cv2

    try:
        arr = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_UNCHANGED)
    except (cv2.error, MemoryError, ValueError):
        arr = None
    if arr is None:
        raise not_readable
    arr = to_uint8(arr)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    elif arr.ndim == 3:
        arr = cv2.cvtColor(arr, cv2.COLOR_BGRA2RGBA if arr.shape[2] == 4 else cv2.COLOR_BGR2RGB)
    if arr.ndim == 3 and arr.shape[2] not in (3, 4):
        raise not_readable
    return _upright(to_8bit(Image.fromarray(arr), mode), orientation)
