"""How long an encode takes on this machine (measured, remembered), and which installed model to start with.

Measured: every real encoder run's time is remembered per model and device (the last few runs; the picker shows
their median), in the settings file, so the picker can say "0.7 s per photo here" before the model is loaded.

Default: with no model chosen yet, the Segment tab starts with the installed model whose encoder is cheapest.
Relative encoder costs (SAM 1 vit_b = 1) measured with random weights of the real architectures on a 1024x768 photo
on a 2-core x86 CPU (tests/benchmarks/segment.py and the issue's notes): EdgeTAM ~0.1, SAM 2.1 hiera tiny ~0.25,
small ~0.35, base+ ~0.6, large ~1.8, SAM-HQ vit_b ~1; vit_l and vit_h scale with their size.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

KEEP = 5  # encoder times remembered per model and device
COST = {("edgetam", "RepViT-M1"): 0.1, ("sam2", "hiera tiny"): 0.25, ("sam2", "hiera small"): 0.35,
        ("sam2", "hiera base+"): 0.6, ("sam2", "hiera large"): 1.8, ("sam", "vit_b"): 1.0, ("sam_hq", "vit_b"): 1.05,
        ("sam", "vit_l"): 3.0, ("sam_hq", "vit_l"): 3.1, ("sam", "vit_h"): 6.0, ("sam_hq", "vit_h"): 6.1}


def model_id(path: str | Path) -> str:
    """'sam/<name>' for a model in the models folder (its registry id), else the absolute path."""
    from app.core import paths

    path = Path(path).absolute()
    try:
        return path.relative_to(paths.models_dir().absolute()).as_posix()
    except ValueError:
        return str(path)


def remember(store: dict, path, device: str, seconds: float) -> None:
    """Add one measured encode to `store` (the settings' dict: "model id@device" -> {"seconds": [...], "at": t})."""
    key = f"{model_id(path)}@{device}"
    entry = store.get(key) if isinstance(store.get(key), dict) else {}
    times = [float(s) for s in entry.get("seconds", []) if isinstance(s, (int, float))][-(KEEP - 1):]
    store[key] = {"seconds": times + [round(float(seconds), 3)], "at": time.time()}


def measured(store: dict, path, device: str | None = None) -> tuple[float, str] | None:
    """(median seconds, device) for this model: on `device` when given and measured there, else on the device it
    was last measured on. None when never measured."""
    prefix = f"{model_id(path)}@"
    found = [(k[len(prefix):], v) for k, v in store.items()
             if k.startswith(prefix) and isinstance(v, dict) and v.get("seconds")]
    if not found:
        return None
    same = [f for f in found if f[0] == device]
    dev, entry = same[0] if same else max(found, key=lambda f: f[1].get("at", 0))
    try:
        return statistics.median(float(s) for s in entry["seconds"]), dev
    except (TypeError, ValueError):
        return None


def describe(seconds: float) -> str:
    """'0.42 s', '3.1 s', '16 s'."""
    if seconds < 1:
        return f"{seconds:.2f} s"
    return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"


def estimated_cost(path: str | Path) -> float:
    """Encoder cost relative to SAM 1 vit_b, from the folder's config or a checkpoint file's size; no loading."""
    path = Path(path)
    if path.is_dir():
        from app.core.errors import UserError
        from app.core.segment.hf import inspect_folder

        try:
            arch = inspect_folder(path)
        except UserError:
            return 100.0
        return COST.get((arch.family, arch.detail), 1.0)
    try:
        size = path.stat().st_size
    except OSError:
        return 100.0
    return 1.0 if size < 600e6 else 3.0 if size < 1.8e9 else 6.0  # vit_b 375 MB, vit_l 1.25 GB, vit_h 2.56 GB


def fastest(paths: list) -> str | None:
    """The path with the cheapest estimated encoder (ties: the first), or None for no paths."""
    if not paths:
        return None
    return str(min(paths, key=estimated_cost))
