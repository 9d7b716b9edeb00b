"""Pair a GGUF language model with its image projector (mmproj).

Where Hearth looks, in order:
1. the projector recorded for the model (the download of a vision model, or `record_projector`) in the models
   folder's `.hearth-sources.json`;
2. the model's own folder: `.gguf` files whose name contains "mmproj" (`mmproj-model-f16.gguf`,
   `SmolVLM-256M-Instruct-mmproj-f16.gguf` …), checked by header. When several fit, the one whose output width
   matches the model wins, then the one whose name shares the most with the model's name.
"""

from __future__ import annotations

import os
from pathlib import Path

from app.core import paths
from app.core.chat import gguf_info
from app.core.errors import UserError
from app.core.models import registry
from app.core.vision.projector import ProjectorInfo, model_embedding_size, read_projector

SOURCE_KEY = "mmproj"  # field of a model's entry in .hearth-sources.json: the projector, relative to models/


TEXT_ONLY = ("This model reads text only. Install a vision model (Models → Catalog: SmolVLM, Qwen2.5-VL, Gemma 3) "
             "with its projector, or pick one that says 'vision'.")


def text_only_message(model_name: str = "") -> str:
    """The one sentence for images sent to a model without a projector (GUI, CLI and server say the same)."""
    found = f" ({model_name}: no mmproj projector is recorded for it or lies beside it)" if model_name else ""
    return TEXT_ONLY.replace("text only.", f"text only{found}.", 1)


def recorded_projector(model_path: str | Path) -> Path | None:
    """The projector recorded for this model, if it still exists."""
    model_path = Path(model_path)
    value = registry.source_of(model_path).get(SOURCE_KEY)
    if not value:
        return None
    path = Path(value)
    path = path if path.is_absolute() else paths.models_dir() / path
    return path if path.is_file() else None


def record_projector(model_path: str | Path, projector_path: str | Path) -> None:
    """Remember that `projector_path` is `model_path`'s projector (kept with the model's other source fields)."""
    model_path, projector_path = Path(model_path), Path(projector_path)
    source = registry.source_of(model_path)
    source.pop("recorded_at", None)
    try:
        source[SOURCE_KEY] = projector_path.resolve().relative_to(paths.models_dir().resolve()).as_posix()
    except ValueError:  # a projector outside the models folder is recorded by its absolute path
        source[SOURCE_KEY] = str(projector_path.resolve())
    registry.record_source(model_path, source)


def candidates(model_path: str | Path) -> list[Path]:
    """Files beside the model that are named like projectors (not yet checked by header)."""
    model_path = Path(model_path)
    folder = model_path.parent
    if not folder.is_dir():
        return []
    found = []
    for entry in os.scandir(folder):
        name = entry.name
        if (name.lower().endswith(".gguf") and "mmproj" in name.lower() and not name.startswith(".")
                and entry.is_file() and Path(entry.path) != model_path):
            found.append(Path(entry.path))
    return sorted(found)


def find_projector(model_path: str | Path, model_info: gguf_info.GGUFInfo | None = None) -> ProjectorInfo | None:
    """The projector to use with the model at `model_path`, or None for a text-only model.

    A projector file that cannot be read is skipped (a broken recorded projector falls back to the folder)."""
    model_path = Path(model_path)
    recorded = recorded_projector(model_path)
    if recorded is not None:
        try:
            return read_projector(recorded)
        except UserError:
            pass
    infos = []
    for path in candidates(model_path):
        try:
            infos.append(read_projector(path))
        except UserError:
            continue
    if not infos:
        return None
    if model_info is None:
        try:
            model_info = gguf_info.read(model_path)
        except UserError:
            model_info = None
    n_embd = model_embedding_size(model_info) if model_info is not None else None
    stem = _base(model_path.stem)

    def rank(p: ProjectorInfo) -> tuple:
        fits = p.embedding_size is None or n_embd is None or p.embedding_size == n_embd
        exact = p.embedding_size is not None and p.embedding_size == n_embd
        return (not fits, not exact, -_common_prefix(stem, _base(p.path.stem)), p.path.name)

    return min(infos, key=rank)


def require_projector(model_path: str | Path, model_info: gguf_info.GGUFInfo | None = None) -> ProjectorInfo:
    """find_projector, or UserError saying the model is text-only and how to get a vision model."""
    found = find_projector(model_path, model_info)
    if found is None:
        raise UserError(text_only_message(Path(model_path).name))
    return found


def _base(stem: str) -> str:
    return stem.lower().replace("mmproj", "").strip("-_. ")


def _common_prefix(a: str, b: str) -> int:
    return len(os.path.commonprefix([a, b]))
