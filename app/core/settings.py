"""One typed settings model, saved as JSON.

- Defaults come from the dataclasses below; a missing key takes its default.
- Unknown keys (from a newer Hearth, or a section this build does not know) are kept and written back.
- Saving is atomic: write a temporary file, fsync, rename over the old one.
- A corrupt or unreadable file is moved aside, defaults are used, and `Settings.load_notice` says so once.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
import typing
from dataclasses import dataclass, field
from pathlib import Path

from app.core import paths

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2  # 2: documents.chunk_tokens' old default 128 became 200 (measured on the dev set)
THEMES = ("system", "light", "dark")


@dataclass
class UISettings:
    """The window: theme, geometry, the tab open at quit, and whether Get started was dismissed."""

    theme: str = "system"  # one of THEMES
    geometry: str = ""  # base64 of QMainWindow.saveGeometry()
    window_state: str = ""  # base64 of QMainWindow.saveState()
    last_tab: str = "chat"
    starter_dismissed: bool = False  # Get started was closed: not offered at start again (Help still opens it)


@dataclass
class ChatSettings:
    """Chat: how models load (context in tokens, GPU layers, threads), the overflow policy, presets, templates."""

    context_cap: int = 8192
    gpu_layers: int = -1  # -1: automatic
    overflow_policy: str = "truncate_middle"  # truncate_middle | rolling_window | stop
    preset: str = "Balanced"
    context_length: int = 0  # 0: the model's own, capped by context_cap
    threads: int = 0  # 0: physical cores
    flash_attn: bool = True
    use_mmap: bool = True
    last_model: str = ""  # path of the GGUF loaded last
    last_conversation: str = ""  # the conversation open when Hearth closed; reopened at start
    templates: dict = field(default_factory=dict)  # model path -> template override ("auto", "gemma", …)
    user_presets: dict = field(default_factory=dict)  # name -> sampling values
    # Answers from documents (chat/query.py): rewrite a follow-up ("and on Windows?") into a standalone question
    # with the loaded model before searching; HyDE: search with a hypothetical answer passage the model writes too
    # (off: on the devset it did not pay for its cost, see README); prompt-lookup decoding (llama.cpp draft model
    # that copies n-grams of the prompt; applies when the model is loaded again).
    rewrite_followups: bool = True
    hyde: bool = False
    prompt_lookup: bool = False


@dataclass
class DocumentsSettings:
    """Documents: search (k, mode, fusion weights, reranker), answering (answer_k, min_similarity), chunking (in
    embedding-model tokens), the embedder of new collections, and OCR of scanned pages and images."""

    search_k: int = 10  # passages a search shows
    answer_k: int = 5  # passages an answer may use
    mode: str = "hybrid"  # hybrid | dense | bm25
    dense_weight: float = 1.0  # the mix: weight of each retriever in hybrid fusion (retriever.py)
    bm25_weight: float = 1.0
    rrf_k: int = 60  # reciprocal rank fusion's k
    fusion: str = "convex"  # hybrid fusion: "convex" (0.8 cosine + 0.2 BM25) or "rrf" (weighted reciprocal rank)
    reranker: str = ""  # installed reranker name; "" = no re-ranking
    min_similarity: float = 0.3  # below this a passage is not relevant enough to be given to the model
    chunk_tokens: int = 200  # chunk size for new collections (embedding-model tokens); see indexer.py
    chunk_overlap: int = 40
    # English (Porter) stemming in keyword search: "watering" finds "water". Changing it rebuilds each collection's
    # keyword index from its stored text at the next indexing (seconds; nothing is re-embedded).
    stemming: bool = True
    embedder: str = ""  # embedding model for new collections; "" = built-in all-MiniLM-L6-v2
    watch: bool = True  # re-index watched folders when their files change
    # Read scanned PDF pages and PNG/JPEG/TIFF images with OCR (RapidOCR, on this computer; seconds per page).
    # Off: such pages are listed as "no text layer; OCR is off". HEARTH_OCR=0/1 overrides it.
    ocr: bool = True


@dataclass
class SegmentSettings:
    """Segment: device, embedding cache size (MB), display, and where the user was."""

    cache_max_mb: int = 2048  # on-disk embedding cache cap (least recently used entries go first)
    device: str = "auto"  # auto | cuda | mps | cpu
    multimask: bool = True  # offer SAM's three candidates for each prompt
    overlay_alpha: float = 0.45
    show_fill: bool = True
    show_outline: bool = True
    preencode: int = 2  # folder browsing: how many of the next photos to encode in the background
    last_model: str = ""  # path of the last SAM checkpoint used
    last_folder: str = ""
    encode_seconds: dict = field(default_factory=dict)  # "model id@device" -> recent encoder times (speed.py)
    everything_points: int = 32  # segment everything: the point grid is N x N
    everything_iou: float = 0.88  # ... keeps masks whose predicted IoU is above this
    everything_stability: float = 0.95  # ... and whose stability score is at least this
    everything_min_area: int = 100  # ... and that cover at least this many photo pixels


@dataclass
class ImagesSettings:
    """Images: device and memory plan overrides, previews, and whether pickle checkpoints may be opened."""

    allow_pickle: bool = False  # open .ckpt/.bin/.pt files (weights-only); off: refused with a message
    device: str = "auto"  # auto | cpu | cuda | mps
    precision: str = "auto"  # auto | float16 | float32
    cpu_offload: str = "auto"  # auto | on | off (CUDA only)
    attention_slicing: str = "auto"  # auto | on | off
    preview: str = "auto"  # auto (TAESD when installed) | approx | off
    last_model: str = ""


@dataclass
class ServerSettings:
    """The OpenAI-compatible server (`hearth serve`, the status bar's Server switch): where it listens, its API key
    (made on first start), which browser origins may call it (CORS; none: no CORS headers at all) and the largest
    request body in MB."""

    enabled: bool = False  # the app starts it at launch (the switch's last state)
    host: str = "127.0.0.1"
    port: int = 8765
    api_key: str = ""  # "" until the first start makes one
    cors_origins: list = field(default_factory=list)  # e.g. ["http://localhost:3000"]
    max_body_mb: int = 32


@dataclass
class Settings:
    """Every setting, one section per feature, saved as one JSON file (module docstring)."""

    version: int = SCHEMA_VERSION
    ui: UISettings = field(default_factory=UISettings)
    chat: ChatSettings = field(default_factory=ChatSettings)
    documents: DocumentsSettings = field(default_factory=DocumentsSettings)
    segment: SegmentSettings = field(default_factory=SegmentSettings)
    images: ImagesSettings = field(default_factory=ImagesSettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    # Other OpenAI-compatible servers: name -> {"url", "api_key", "timeout_s"} (app/core/connections.py)
    connections: dict = field(default_factory=dict)
    # Set by load() when the file could not be read; the UI shows it once. Not saved.
    load_notice: str = field(default="", compare=False)

    # ---- persistence -------------------------------------------------------------------------------------------
    @classmethod
    def load(cls, path: Path | None = None) -> "Settings":
        """Read `path` (default: paths.settings_file()); defaults when it does not exist. Never raises for a bad
        file: it is moved aside and load_notice says so."""
        path = path or paths.settings_file()
        if not path.exists():
            return cls()
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(raw, dict):
                raise ValueError("top level is not an object")
            return _migrate(_from_dict(cls, raw), raw)
        except Exception as exc:  # corrupt JSON, wrong types, unreadable file
            backup = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
            try:
                os.replace(path, backup)
                where = f" It was moved to {backup}."
            except OSError:
                where = ""
            log.warning("settings file %s unreadable (%s); using defaults", path, exc)
            settings = cls()
            settings.load_notice = f"Your settings file could not be read ({exc}), so defaults are in use.{where}"
            return settings

    def save(self, path: Path | None = None) -> None:
        """Write atomically (temporary file, fsync, rename). Raises OSError when the folder cannot be written."""
        path = path or paths.settings_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        import tempfile

        text = json.dumps(self.to_dict(), indent=2, sort_keys=True)
        fd, tmp = tempfile.mkstemp(prefix=".settings-", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def to_dict(self) -> dict:
        """The JSON-ready dict that save() writes (unknown keys from the file included)."""
        return _to_dict(self)


def _to_dict(obj) -> dict:
    # Keys this build does not know were kept in `_extra` by _from_dict, so a save never drops them.
    out: dict = dict(getattr(obj, "_extra", {}))
    for f in dataclasses.fields(obj):
        if f.name == "load_notice":
            continue
        value = getattr(obj, f.name)
        out[f.name] = _to_dict(value) if dataclasses.is_dataclass(value) else value
    return out


def _migrate(settings: "Settings", raw: dict) -> "Settings":
    """Bring a file written by an older Hearth up to SCHEMA_VERSION. Version 1 saved every default, so its
    chunk size of 128 tokens is the old default, not a choice: new collections get today's 200 (a collection
    already made keeps its own size)."""
    version = raw.get("version")
    if not isinstance(version, int):
        version = 1
    if version < 2 and settings.documents.chunk_tokens == 128:
        settings.documents.chunk_tokens = DocumentsSettings.chunk_tokens
    settings.version = SCHEMA_VERSION
    return settings


def _from_dict(cls, raw: dict):
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    kwargs = {}
    extra = {}
    for key, value in raw.items():
        if key not in known or key == "load_notice":
            extra[key] = value
            continue
        kind = hints[key]
        if dataclasses.is_dataclass(kind):
            if not isinstance(value, dict):
                raise ValueError(f"'{key}' should be an object")
            kwargs[key] = _from_dict(kind, value)
        else:
            kwargs[key] = _coerce(key, kind, value)
    obj = cls(**kwargs)
    if extra:
        obj._extra = extra
    return obj


def _coerce(key: str, kind, value):
    origin = typing.get_origin(kind) or kind
    if origin is bool:
        if not isinstance(value, bool):
            raise ValueError(f"'{key}' should be true or false")
        return value
    if origin is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"'{key}' should be a whole number")
        return value
    if origin is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"'{key}' should be a number")
        return float(value)
    if origin is str and not isinstance(value, str):
        raise ValueError(f"'{key}' should be text")
    if origin is dict and not isinstance(value, dict):
        raise ValueError(f"'{key}' should be an object")
    if origin is list and not isinstance(value, list):
        raise ValueError(f"'{key}' should be a list")
    return value
