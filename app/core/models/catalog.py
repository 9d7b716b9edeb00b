"""The curated catalog (`resources/catalog.json`): the models each tab needs, where to get them, how big they are.

An entry has one or more variants (`files`): a single file (`file`, e.g. one GGUF quantization) or a set of files
from a repository (`include` patterns, installed as one folder named after the entry). An entry comes either from a
Hugging Face repository (`repo` + `revision`) or from a plain URL (`url`). `verified` says whether the repository id
and file names were checked against public pages when the catalog was written. `starter` (kept in `extra`) marks
the entries Get started may propose, with their rank (starter.py).

A vision chat model also names its image projector (`mmproj`: a file of the same repository): it is downloaded and
verified with the model as one install, recorded as the model's projector (vision/pairing.py), and counted in the
memory the model needs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from app.core.errors import UserError
from app.core.resources import resources_dir

GB = 10**9


@dataclass(frozen=True)
class CatalogFile:
    """One downloadable variant of an entry: a quantization (chat GGUFs) or the files of a folder model."""

    quantization: str | None
    size_bytes: int
    file: str | None = None  # a single file in the repo (or the file name of `url`)
    include: tuple[str, ...] = ()  # glob patterns of repo files making up a folder model
    sha256: str | None = None

    @property
    def label(self) -> str:
        """The quantization, else the file name, else "files"."""
        return self.quantization or (self.file or "files")


@dataclass(frozen=True)
class CatalogEntry:
    """A curated model (resources/catalog.json): what it is, its license, where it comes from, its variants and
    the memory it needs. `verified` is False when its repository could not be checked against public pages."""

    id: str
    name: str
    kind: str
    format: str
    license: str
    verified: bool
    description: str
    files: tuple[CatalogFile, ...]
    repo: str | None = None
    revision: str = "main"
    url: str | None = None
    params: str | None = None
    memory_gb: float | None = None  # memory needed to run it (non-chat kinds)
    overhead_gb: float | None = None  # chat: KV cache (4k context) + compute buffers on top of the weights
    projector: CatalogFile | None = None  # a vision model's mmproj file, installed beside every variant
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    def memory_bytes(self, variant: CatalogFile) -> int:
        """Memory needed to run this variant: chat GGUF = weights (and projector) x 1.1 + overhead; others = the
        entry's figure."""
        if self.kind == "chat":
            weights = variant.size_bytes + (self.projector.size_bytes if self.projector else 0)
            return int(weights * 1.1 + (self.overhead_gb or 0.5) * GB)
        return int((self.memory_gb or variant.size_bytes * 1.2 / GB) * GB)

    def variant(self, quantization: str | None = None) -> CatalogFile:
        """The variant of `quantization` (case-insensitive; None: the default one). Raises UserError when the
        entry has no such variant."""
        if quantization is None:
            return self.default_variant
        for v in self.files:
            if v.quantization and v.quantization.upper() == quantization.upper():
                return v
        choices = ", ".join(v.label for v in self.files)
        raise UserError(f"{self.name} has no {quantization} variant; choose one of: {choices}")

    @property
    def default_variant(self) -> CatalogFile:
        """Q4_K_M when there is one (the usual balance), else the first variant."""
        for v in self.files:
            if v.quantization == "Q4_K_M":
                return v
        return self.files[0]

    def download_bytes(self, variant: CatalogFile) -> int:
        """What installing this variant downloads: its files plus the projector of a vision model (bytes)."""
        return variant.size_bytes + (self.projector.size_bytes if self.projector else 0)

    @property
    def vision(self) -> bool:
        """A vision chat model: it comes with an image projector."""
        return self.projector is not None

    @property
    def source(self) -> str:
        """"huggingface.co/<repo>" or the download URL."""
        return f"huggingface.co/{self.repo}" if self.repo else (self.url or "")


def _file(f: dict) -> CatalogFile:
    return CatalogFile(quantization=f.get("quantization"), size_bytes=int(f["size"]), file=f.get("file"),
                       include=tuple(f.get("include") or ()), sha256=f.get("sha256"))


def _entry(raw: dict) -> CatalogEntry:
    files = tuple(_file(f) for f in raw["files"])
    known = {"id", "name", "kind", "format", "license", "verified", "description", "files", "repo", "revision", "url",
             "params", "memory_gb", "overhead_gb", "mmproj"}
    return CatalogEntry(
        id=raw["id"], name=raw["name"], kind=raw["kind"], format=raw["format"], license=raw["license"],
        verified=bool(raw.get("verified")), description=raw.get("description", ""), files=files,
        repo=raw.get("repo"), revision=raw.get("revision") or "main", url=raw.get("url"), params=raw.get("params"),
        memory_gb=raw.get("memory_gb"), overhead_gb=raw.get("overhead_gb"),
        projector=_file(raw["mmproj"]) if raw.get("mmproj") else None,
        extra={k: v for k, v in raw.items() if k not in known},
    )


@lru_cache(maxsize=4)
def _load(path: str) -> tuple[CatalogEntry, ...]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return tuple(_entry(raw) for raw in data["entries"])


def load(path: Path | None = None) -> list[CatalogEntry]:
    """Every entry of the catalog file (default: resources/catalog.json), read once per process."""
    return list(_load(str(path or resources_dir() / "catalog.json")))


def entries(kind: str | None = None) -> list[CatalogEntry]:
    """The catalog's entries of `kind` (None: all), in file order."""
    return [e for e in load() if kind is None or e.kind == kind]


def find(ref: str) -> tuple[CatalogEntry, CatalogFile] | None:
    """'llama-3.2-1b-instruct' or 'llama-3.2-1b-instruct:Q8_0' → (entry, variant); None when not in the catalog."""
    entry_id, _, quant = ref.partition(":")
    for entry in load():
        if entry.id.lower() == entry_id.lower():
            return entry, entry.variant(quant or None)
    return None
