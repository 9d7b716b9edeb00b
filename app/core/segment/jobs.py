"""Job functions `fn(inputs, state)` for the GUI's job manager and the CLI, plus model lookup."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.core.errors import UserError
from app.core.segment import images as imgs
from app.core.segment.predictor import Embedding, Prediction, Prompts, SegmentEngine

ENCODER = "sam-encoder"  # job resources: encoding and decoding may run side by side
DECODER = "sam-decoder"


def installed_sam_models():
    """The installed models of kind 'sam' (models.registry.installed), each with .name and .path."""
    from app.core.models import registry

    return registry.installed("sam")


MODEL_SUFFIXES = (".pth", ".pt", ".safetensors")


def resolve_model(spec: str | None) -> Path:
    """`spec` is a path (a SAM 1 checkpoint file or a Hugging Face model folder), an installed model's name
    (`sam2.1-hiera-tiny`), an architecture name read from each installed model (vit_b / vit_l / vit_h from a
    checkpoint's shapes, "EdgeTAM" or "SAM 2 hiera tiny" from a folder's config.json, never from file names), or None
    for the installed model with the fastest encoder (speed.fastest)."""
    from app.core.segment import speed

    if spec:
        as_path = Path(spec).expanduser()
        if as_path.exists() or any(sep in spec for sep in ("/", "\\")) or as_path.suffix.lower() in MODEL_SUFFIXES:
            if not as_path.exists():
                raise UserError(f"Model file not found: {spec}")
            return as_path
    models = installed_sam_models()
    if not spec and not models:
        raise UserError("No Segment Anything model is installed. Get one in the Models tab (EdgeTAM is the fastest "
                        "on a CPU), or pass --model PATH to a SAM .pth checkpoint or model folder.")
    if not spec:
        return Path(speed.fastest([m.path for m in models]))
    for m in models:
        if m.name == spec or m.path.name == spec:
            return m.path
    from app.core.segment.model import inspect_checkpoint

    for m in models:
        try:
            if inspect_checkpoint(m.path).name.lower() == spec.lower():
                return m.path
        except UserError:
            continue
    from app.core.models import catalog

    found = catalog.find(spec)
    if found is not None and found[0].kind == "sam":
        raise UserError(f"{spec} is not installed: get it in the Models tab or run `hearth models download {spec}`.")
    names = ", ".join(m.path.name for m in models) or "none"
    raise UserError(f"No installed SAM model is {spec!r}. Installed: {names}. Pass --model PATH to use a file "
                    "or folder.")


# ---- jobs ------------------------------------------------------------------------------------------------------
def load_model_job(inputs, state):
    """Job: inputs (SegmentEngine, path) -> the LoadedSam (SegmentEngine.load). UserError for a file or folder that is
    not a loadable SAM-family model."""
    engine, path = inputs
    return engine.load(path, state)


@dataclass
class OpenedImage:
    """What `open_image_job` returns: the decoded `image`, its `display` copy (h x w x 3 uint8, long side at most
    max_side pixels) and `scale` (display pixels per image pixel, <= 1)."""

    image: imgs.LoadedImage
    display: np.ndarray  # downsampled RGB for the screen
    scale: float  # display px per image px


def open_image_job(inputs, state):
    """Decode (and hash) a photo or a pasted array, and make the screen copy. inputs: path or (array, None)."""
    source, max_side = inputs
    state.progress(None, "Opening image")
    image = imgs.load_image(source) if isinstance(source, (str, Path)) else imgs.from_array(source)
    state.check()
    display, scale = imgs.display_copy(image.rgb, max_side)
    return OpenedImage(image, np.ascontiguousarray(display), scale)


def encode_job(inputs, state) -> Embedding:
    """Job: inputs (SegmentEngine, LoadedImage) -> its Embedding, from the cache or by running the encoder (progress per
    encoder block, JobCancelled between blocks). UserError when no model is loaded."""
    engine, image = inputs
    return engine.encode(image, state)


def preencode_job(inputs, state) -> int:
    """Encode the next photos of a folder into the cache; cancelled when the user moves on. Returns how many
    embeddings were computed."""
    engine, paths = inputs
    done = 0
    for n, path in enumerate(paths):
        state.check()
        state.progress(n / max(1, len(paths)), f"Preparing {Path(path).name}")
        try:
            image = imgs.load_image(path)
        except UserError:
            continue  # a broken file in the folder: the user sees the error when they open it
        if engine.cached(image) is None:
            engine.encode(image, _Quiet(state))
            done += 1
    return done


class _Quiet:
    """Forwards cancellation but not per-block progress (the pre-encode job reports per image)."""

    def __init__(self, state) -> None:
        self._state = state

    def check(self) -> None:
        self._state.check()

    def progress(self, *_args) -> None:
        pass


@dataclass
class DecodeRequest:
    """Inputs of `decode_job`: engine and embedding, `vid` (the layer version the prompts belong to), `prompts` (image
    pixels), `mask_input` (1 x h x w low-res logits of the previous step, or None), `multimask` (several candidates
    instead of one), `display_size` and `thumb_size` ((width, height), pixels)."""

    engine: SegmentEngine
    embedding: Embedding
    vid: int
    prompts: Prompts
    mask_input: np.ndarray | None
    multimask: bool
    display_size: tuple[int, int]
    thumb_size: tuple[int, int]


@dataclass
class DecodeResult:
    """What `decode_job` returns: the Prediction for layer version `vid` (see SegmentSession.attach)."""

    vid: int
    prediction: Prediction


def decode_job(req: DecodeRequest, state) -> DecodeResult:
    """One click: predict, then scale the candidate on show to the screen size, and every candidate to thumbnail
    size, off the GUI thread (the other candidates are scaled to the screen only if the user picks them)."""
    pred = req.engine.predict(req.embedding, req.prompts, req.mask_input, req.multimask)
    state.check()
    pred.mask(pred.best, req.display_size)
    for i in range(pred.count):
        pred.mask(i, req.thumb_size)
    return DecodeResult(req.vid, pred)


def parse_point(text: str) -> tuple[float, float, int]:
    """CLI --point 'X,Y' or 'X,Y,L' (image pixels; L: 1 positive, the default, or 0 negative) -> (x, y, label).
    UserError for any other text."""
    parts = [p.strip() for p in text.split(",")]
    try:
        if len(parts) == 2:
            return float(parts[0]), float(parts[1]), 1
        if len(parts) == 3 and parts[2] in ("0", "1"):
            return float(parts[0]), float(parts[1]), int(parts[2])
    except ValueError:
        pass
    raise UserError(f"--point {text!r}: expected X,Y or X,Y,1 (positive) or X,Y,0 (negative), in image pixels.")


def parse_box(text: str) -> tuple[float, float, float, float]:
    """CLI --box 'X0,Y0,X1,Y1' (two opposite corners, image pixels) -> (x0, y0, x1, y1) with x0 < x1 and y0 < y1.
    UserError for other text or a box of zero width or height."""
    parts = [p.strip() for p in text.split(",")]
    try:
        if len(parts) == 4:
            x0, y0, x1, y1 = (float(p) for p in parts)
            if x0 != x1 and y0 != y1:
                return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)
    except ValueError:
        pass
    raise UserError(f"--box {text!r}: expected X0,Y0,X1,Y1 (two opposite corners, image pixels).")


def check_inside(prompts: Prompts, size: tuple[int, int]) -> None:
    """UserError when a point lies outside the image or the box does not overlap it. `size`: (width, height) in
    pixels."""
    w, h = size
    for x, y, _ in prompts.points:
        if not (0 <= x < w and 0 <= y < h):
            raise UserError(f"Point {x:g},{y:g} is outside the image ({w}x{h} pixels).")
    if prompts.box is not None:
        x0, y0, x1, y1 = prompts.box
        if x1 <= 0 or y1 <= 0 or x0 >= w or y0 >= h:
            raise UserError(f"Box {x0:g},{y0:g},{x1:g},{y1:g} is outside the image ({w}x{h} pixels).")


@dataclass
class EverythingRequest:
    """Inputs of `everything_job`: engine, embedding, `params` (everything.EverythingParams) and `display_size` ((width,
    height) of the screen copy, pixels)."""

    engine: SegmentEngine
    embedding: Embedding
    params: object  # everything.EverythingParams
    display_size: tuple[int, int]  # (w, h) of the screen copy: each object's mask is scaled to it here


def everything_job(req: EverythingRequest, state) -> list:
    """Segment everything (everything.segment_everything), then scale each object's mask to the screen size off
    the GUI thread. Returns [FoundObject], largest first."""
    from app.core.segment.everything import segment_everything

    found = segment_everything(req.engine, req.embedding, req.params, state)
    for obj in found:
        state.check()
        obj.prediction.mask(0, req.display_size)
    return found


# ---- exports ---------------------------------------------------------------------------------------------------
@dataclass
class ExportRequest:
    """Inputs of `export_job`: `kind` (mask | cutout | coco | labelme | inpaint), the file to write, the photo (`rgb`
    H x W x 3 uint8), its name and path (None when pasted), and `objects` [(label, Prediction, candidate index)]."""

    kind: str  # mask | cutout | coco | labelme | inpaint
    path: Path  # the file to write (for inpaint: the mask file)
    rgb: np.ndarray
    image_name: str
    image_path: Path | None
    objects: list  # [(label, Prediction, candidate index)]; mask/cutout/inpaint use the first


def export_job(req: ExportRequest, state) -> dict:
    """Scale the chosen candidates to the full photo and write the requested file. Returns what was written."""
    from app.core.segment import exports

    if not req.objects:
        raise UserError("Nothing to export yet: click on an object first.")
    h, w = req.rgb.shape[:2]

    def masks():  # scaled to the full photo one at a time (every object of a 24 MP photo would not fit at once)
        for n, (label, pred, index) in enumerate(req.objects):
            state.check()
            state.progress(n / len(req.objects), "Scaling masks to full size")
            yield label, pred.mask(index), float(pred.ious[index])

    mask = next(masks())[1] if req.kind in ("mask", "cutout", "inpaint") else None  # these write the first object
    out = {"path": str(req.path)}
    if req.kind == "mask":
        exports.save_mask_png(mask, req.path)
    elif req.kind == "cutout":
        exports.save_cutout(req.rgb, mask, req.path, crop=True)
    elif req.kind == "coco":
        exports.save_coco(masks(), req.image_name, (w, h), req.path)
    elif req.kind == "labelme":
        import os

        image_ref = req.image_name
        if req.image_path is not None:
            image_ref = os.path.relpath(req.image_path.resolve(), Path(req.path).resolve().parent)
        exports.save_labelme(((l, m) for l, m, _ in masks()), image_ref, (w, h), req.path)
    elif req.kind == "inpaint":
        Path(req.path).parent.mkdir(parents=True, exist_ok=True)
        exports.save_mask_png(mask, req.path)
        image_path = req.image_path
        if image_path is None:  # a pasted image: save it next to the mask so the Images tab can open it
            from PIL import Image

            image_path = Path(req.path).with_name(Path(req.path).stem + "-image.png")
            Image.fromarray(req.rgb).save(image_path)
        out["image"] = str(image_path)
    else:
        raise ValueError(f"unknown export kind {req.kind!r}")
    state.progress(1.0, "Saved")
    return out


@dataclass(frozen=True)
class Thumbnail:
    """A folder photo's small copy for the photo list: rgb (h, w, 3) uint8 with its longest side ≤ the size asked,
    or None with the sentence saying why it cannot be read."""

    path: Path
    rgb: np.ndarray | None
    error: str = ""


def thumbnails_job(inputs, state) -> int:
    """inputs: (files, side). Sends a Thumbnail partial per file (JPEGs decoded at reduced size); returns the
    count. An unreadable file gets a Thumbnail with its reason, not an error."""
    from app.core.vision.images import open_rgb

    files, side = inputs
    for n, path in enumerate(files):
        state.check()
        try:
            image, _ = open_rgb(path, side)
            state.partial(Thumbnail(Path(path), np.asarray(image)))
        except UserError as exc:
            state.partial(Thumbnail(Path(path), None, str(exc)))
        state.progress((n + 1) / len(files), f"Thumbnails {n + 1}/{len(files)}")
    return len(files)
