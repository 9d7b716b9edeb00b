"""ControlNet control images: canny edges (OpenCV), the user's scribble, depth (when a depth model is installed)."""

from __future__ import annotations

import threading
from pathlib import Path

from app.core.errors import UserError


def canny(image, low: int = 100, high: int = 200):
    """Canny edges (Canny 1986, OpenCV's cv2.Canny on the grey image) of a PIL image: an RGB PIL image of the same size,
    white edges on black. `low` / `high`: the hysteresis thresholds on gradient magnitude, 0 <= low < high <= 1000;
    UserError otherwise."""
    import cv2
    import numpy as np
    from PIL import Image

    if not 0 <= low < high <= 1000:
        raise UserError(f"Canny thresholds must satisfy 0 ≤ low < high (got {low} and {high}).")
    gray = cv2.cvtColor(np.asarray(image.convert("RGB")), cv2.COLOR_RGB2GRAY)
    edges = cv2.Canny(gray, int(low), int(high))
    return Image.fromarray(np.stack([edges] * 3, axis=-1))


def scribble(image):
    """White strokes on black, whatever the user drew on (a dark drawing on a light page is inverted)."""
    import numpy as np
    from PIL import Image

    gray = np.asarray(image.convert("L"))
    if gray.mean() > 127:
        gray = 255 - gray
    lines = np.where(gray > 64, 255, 0).astype("uint8")
    return Image.fromarray(np.stack([lines] * 3, axis=-1))


_depth_lock = threading.Lock()
_depth_cache: dict = {}


def find_depth_model() -> Path | None:
    """Path of the first installed depth-estimation model (models registry kind 'depth'), or None."""
    from app.core.models import registry

    found = registry.installed("depth")
    return found[0].path if found else None


def depth(image, model_path: Path | None = None):
    """Depth map of a PIL image by transformers' 'depth-estimation' pipeline (e.g. Depth Anything), as an RGB PIL image
    of the same size (the model's grey levels). The estimator stays loaded while the model file is unchanged. UserError
    when no depth model is installed."""
    import os

    import numpy as np
    from PIL import Image

    model_path = model_path or find_depth_model()
    if model_path is None:
        raise UserError("Depth control needs a depth model (for example Depth Anything small) installed in Models.")
    os.environ["HF_HUB_OFFLINE"] = "1"
    with _depth_lock:  # one estimator, kept while the same model file is installed (each preview used to reload it)
        key = (str(model_path), Path(model_path).stat().st_mtime_ns)
        if _depth_cache.get("key") != key:
            from transformers import pipeline

            _depth_cache.clear()
            _depth_cache.update(key=key, estimator=pipeline("depth-estimation", model=str(model_path),
                                                            local_files_only=True))
        result = _depth_cache["estimator"](image.convert("RGB"))
    depth_map = np.asarray(result["depth"].convert("L").resize(image.size))
    return Image.fromarray(np.stack([depth_map] * 3, axis=-1))


def control_image(kind: str, path: str, width: int, height: int, low: int = 100, high: int = 200):
    """The control image at `path`, opened with Hearth's loader, fitted to width x height (centre crop when the
    aspect ratio differs), then preprocessed for `kind`."""
    from app.core import imageio
    from app.core.images.inputs import fit

    return preprocess(kind, fit(imageio.open_image(path), width, height), low, high)


def preprocess(kind: str, image, low: int = 100, high: int = 200):
    """What a ControlNet of `kind` sees, from an RGB image already at the generation size."""
    if kind == "canny":
        return canny(image, low, high)
    if kind == "scribble":
        return scribble(image)
    if kind == "depth":
        return depth(image)
    raise UserError(f"Unknown control {kind!r}: use canny, depth or scribble.")
