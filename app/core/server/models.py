"""Which models the server offers, by id: installed chat GGUFs (`gemma-3-270m-q4_k_m`: the file name without
.gguf, lower case), embedding models (the built-in `all-MiniLM-L6-v2` and installed ones) and image models
(installed diffusion checkpoints). A request names a model by one of these ids, matched without regard to case —
never by a path, so a request cannot make the server open an arbitrary file. Inside the app, the chat model loaded
in the Chat tab is offered too (it is in memory already).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

from app.core.server.errors import ApiError

_context_cache: dict[tuple[str, float], int | None] = {}
_cache_lock = threading.Lock()


@dataclass
class ServedModel:
    """One model the server answers to: its id, kind ("chat", "embedding", "image") and where it lives (the
    embedder key for embeddings)."""

    id: str
    kind: str
    path: str
    created: int = 0
    context_length: int | None = None

    def to_json(self) -> dict:
        """The /v1/models entry (OpenAI's fields, plus hearth_kind and context_length)."""
        data = {"id": self.id, "object": "model", "created": self.created, "owned_by": "hearth",
                "hearth_kind": self.kind}
        if self.context_length:
            data["context_length"] = self.context_length
        return data


def model_id(path: Path | str) -> str:
    """The id of an installed model file or folder: its name without the extension, lower case."""
    path = Path(path)
    return (path.stem if path.suffix.lower() in (".gguf", ".safetensors", ".ckpt") else path.name).lower()


def _created(path: Path) -> int:
    try:
        return int(path.stat().st_mtime)
    except OSError:
        return 0


def _context_length(path: Path, chat_settings) -> int | None:
    """The context a chat model would load with (its trained length capped by the settings), read once per file."""
    key = (str(path), _created(path))
    with _cache_lock:
        if key in _context_cache:
            return _context_cache[key]
    try:
        from app.core.chat import gguf_info

        trained = gguf_info.read(path).context_length
        value = chat_settings.context_length or min(trained or 4096, chat_settings.context_cap)
    except Exception:  # noqa: BLE001 - a damaged file still gets listed; loading it says what is wrong
        value = None
    with _cache_lock:
        _context_cache[key] = value
    return value


def available(runtime) -> list[ServedModel]:
    """Every model the server offers now (reads the models folder: call off the event loop)."""
    from app.core.documents import embedder
    from app.core.models import registry

    chat_settings = runtime.settings.chat
    found: list[ServedModel] = []
    seen: set[tuple[str, str]] = set()

    def add(model: ServedModel) -> None:
        if (model.kind, model.id) not in seen:
            seen.add((model.kind, model.id))
            found.append(model)

    chat = runtime.engines.chat
    loaded = chat.model if chat.loaded else None
    for m in registry.installed("chat"):
        if m.format == "gguf":
            n_ctx = loaded.n_ctx if loaded is not None and chat.loaded_path == str(m.path) else None
            add(ServedModel(model_id(m.path), "chat", str(m.path), _created(m.path),
                            n_ctx or _context_length(m.path, chat_settings)))
    if loaded is not None and not getattr(loaded.load_info, "extra", {}).get("remote"):
        path = Path(chat.loaded_path)
        add(ServedModel(model_id(path), "chat", str(path), _created(path), loaded.n_ctx))
    for key, path in embedder.available_embedders():
        add(ServedModel(key, "embedding", key, _created(path)))
    for m in registry.installed("diffusion"):
        add(ServedModel(model_id(m.path), "image", str(m.path), _created(m.path)))
    return found


def find(runtime, name: str, kind: str) -> ServedModel:
    """The `kind` model whose id is `name` (any case). Raises ApiError 404 (model_not_found) naming the ids there
    are."""
    if not isinstance(name, str) or not name.strip():
        raise ApiError(400, "Name a model: 'model' is required (GET /v1/models lists them).", "missing_model",
                       "model")
    models = [m for m in available(runtime) if m.kind == kind]
    wanted = name.strip().lower()
    for m in models:
        if m.id.lower() == wanted:
            return m
    ids = ", ".join(m.id for m in models) or "none installed"
    what = {"chat": "chat model", "embedding": "embedding model", "image": "image model"}[kind]
    raise ApiError(404, f"The {what} '{name}' does not exist on this Hearth (available: {ids}).",
                   "model_not_found", "model")


def now() -> int:
    return int(time.time())
