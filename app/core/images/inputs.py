"""The pictures a generation starts from (img2img / inpainting starting image and mask, ControlNet control image),
opened with Hearth's one loader and fitted to the generation size without distortion.

Size "auto" (width = height = 0: the CLI without --size, "Match image" in the Images tab) keeps the picture's
aspect ratio: the nearest multiples of 8 whose area stays within the model's native area (512² for SD 1.x and
2.x base, 768² for SD 2.x 768-v, 1024² for SDXL, 512² for Turbo models: the size in the UNet's config, which is
diffusers' own default size, capped by Hearth's defaults for models named like few-step ones). An explicit size
of another aspect ratio takes the centre of the picture (A1111's "crop and resize"), never a stretched copy. The
mask is fitted exactly like its image, so it stays on the same pixels. Each such decision is returned as a note
the GUI and the CLI show.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from app.core.images.families import FAMILY_NAMES
from app.core.images.params import GenerationParams, defaults_for

MAX_SIDE = 2048  # the engine's limit (validate: at most 2048 x 2048)
ASPECT_TOLERANCE = 0.02  # rounding to multiples of 8 moves the aspect ratio by up to ~2 %: not worth a crop


@dataclass
class FittedInputs:
    """What `prepare` returns: the generation `width` x `height` (pixels, multiples of 8), the starting `init` image,
    `mask` and `control` image fitted to it (PIL images, or None), and `notes` telling the user what was decided about
    the size."""

    width: int
    height: int
    init: object = None  # PIL RGB image of width x height, or None
    mask: object = None  # PIL L image of width x height, or None
    control: object = None  # PIL RGB image of width x height (before canny / scribble / depth), or None
    notes: list[str] = field(default_factory=list)


def native_size(family: str, model_name: str = "", pipe=None) -> tuple[int, int]:
    """The size a model was trained at: the smaller of the size its UNet config declares (sample_size x the VAE's
    scale factor, what diffusers makes by default) and Hearth's defaults for its family and name (Turbo models
    are trained at 512² even when a single file is loaded with the SDXL config)."""
    d = defaults_for(family, model_name)
    try:
        side = int(pipe.unet.config.sample_size) * int(pipe.vae_scale_factor)
    except (AttributeError, TypeError, ValueError):
        return d.width, d.height
    return (side, side) if side * side < d.width * d.height else (d.width, d.height)


def aspect_size(width: int, height: int, area: int, min_side: int = 64, max_side: int = 2048) -> tuple[int, int]:
    """(w, h): multiples of 8 with w * h <= area and w / h as close to width / height as multiples of 8 allow
    (of the sizes within 1 % of that aspect ratio, the largest). For example 427x640 in 512x512 → 416x624.
    Sides stay within min_side..max_side: a more elongated picture gets the most elongated size that allows."""
    limit = min(max_side ** 2 / area, area / min_side ** 2)  # the largest aspect ratio both sides allow
    aspect = min(max(width / height, 1 / limit), limit)
    scale = math.sqrt(area / aspect)  # the height at this aspect ratio and the full area

    def snap(v: float) -> int:
        return min(max_side, max(min_side, int(round(v / 8)) * 8))

    candidates = set()
    for k in range(-2, 3):  # a few widths around the ideal one, each with its best height, and the other way
        w = snap((int(aspect * scale) // 8 + k) * 8)
        candidates.add((w, snap(w / aspect)))
        h = snap((int(scale) // 8 + k) * 8)
        candidates.add((snap(h * aspect), h))

    def error(size: tuple[int, int]) -> float:
        return abs(math.log(size[0] / size[1] / aspect))

    fitting = [c for c in candidates if c[0] * c[1] <= area] or [min(candidates, key=lambda c: c[0] * c[1])]
    close = [c for c in fitting if error(c) <= 0.01]
    return max(close, key=lambda c: (c[0] * c[1], -error(c))) if close else min(fitting, key=error)


def _aspect_differs(size: tuple[int, int], width: int, height: int) -> bool:
    return abs(math.log((size[0] / size[1]) / (width / height))) > ASPECT_TOLERANCE


def fit(image, width: int, height: int, resample=None):
    """`image` resized to width x height; when the aspect ratios differ, its centre is cropped to the target's
    aspect ratio first (no stretching)."""
    from PIL import Image

    resample = Image.Resampling.LANCZOS if resample is None else resample
    w, h = image.size
    if _aspect_differs((w, h), width, height):
        if w / h > width / height:  # wider than the target: crop the sides
            cw = max(1, round(h * width / height))
            left = (w - cw) // 2
            image = image.crop((left, 0, left + cw, h))
        else:
            ch = max(1, round(w * height / width))
            top = (h - ch) // 2
            image = image.crop((0, top, w, top + ch))
    return image if image.size == (width, height) else image.resize((width, height), resample)


def prepare(params: GenerationParams, family: str, pipe=None) -> FittedInputs:
    """Open the starting image, mask and control image `params` names and fit them to the generation size
    (resolving size "auto" with the loaded pipeline `pipe`'s native size). UserError for unreadable or too
    large images."""
    from app.core import imageio

    init = mask = control = None
    if params.mode in ("img2img", "inpaint"):
        init = imageio.open_image(params.init_image, "RGB")
    if params.mode == "inpaint":
        mask = imageio.open_image(params.mask_image, "L")
    if params.control:
        control = imageio.open_image(params.control_image, "RGB")
    notes: list[str] = []
    source, source_path = (init, params.init_image) if init is not None else (control, params.control_image)
    if mask is not None and mask.size != init.size:
        notes.append(f"The mask ({mask.size[0]}x{mask.size[1]}) was scaled to its image's size "
                     f"({init.size[0]}x{init.size[1]}).")
        mask = mask.resize(init.size)
    width, height = params.width, params.height
    if not width or not height:
        native = native_size(family, Path(params.model).name, pipe)
        if source is None:
            width, height = native
        else:
            area = native[0] * native[1]
            width, height = aspect_size(*source.size, area, max(8, math.isqrt(area) // 64 * 8), MAX_SIDE)
            what = "The starting image" if init is not None else "The control image"
            kept = "its centre, as elongated as the model allows" if _aspect_differs(source.size, width, height) \
                else "its aspect ratio"
            notes.append(f"{what} is {source.size[0]}x{source.size[1]}: generating at {width}x{height}, {kept} "
                         f"within {FAMILY_NAMES.get(family, family)}'s {native[0]}x{native[1]} area.")
    elif source is not None and _aspect_differs(source.size, width, height):
        notes.append(f"{Path(source_path).name} ({source.size[0]}x{source.size[1]}) has another aspect ratio than "
                     f"{width}x{height}: its centre was used. Choose size \"Match image\" (CLI: no --size) to keep "
                     "all of it.")
    from PIL import Image

    return FittedInputs(
        width, height,
        init=fit(init, width, height) if init is not None else None,
        mask=fit(mask, width, height, Image.Resampling.BILINEAR) if mask is not None else None,
        control=fit(control, width, height) if control is not None else None,
        notes=notes)
