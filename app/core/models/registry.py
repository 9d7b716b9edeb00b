"""Registry of installed models: what is in the models folder, by kind. Every tab's model picker reads it.

Layout: `<models>/<kind>/<name>` where kind is one of KINDS (a file, or a folder for multi-file models).
Files and folders placed directly in `<models>` are recognised by their content/extension.
Partial downloads (`*.part`, `*.incomplete`) and the `.quarantine` folder are never listed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from app.core import paths

KINDS = ("chat", "embedding", "reranker", "diffusion", "controlnet", "vae", "lora", "sam", "depth")
PARTIAL_SUFFIXES = (".part", ".incomplete", ".tmp")
_QUANT = re.compile(r"(?i)(IQ\d_[A-Z0-9_]+|Q\d_K_[SML]|Q\d_K|Q\d_\d|Q\d|F16|BF16|F32)")


@dataclass
class InstalledModel:
    path: Path
    kind: str
    name: str
    size_bytes: int
    format: str  # gguf | safetensors | diffusers | sentence-transformers | transformers | pth | ckpt
    quantization: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.kind}/{self.path.name}"


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _is_partial(path: Path) -> bool:
    return path.name.startswith(".") or path.name.endswith(PARTIAL_SUFFIXES)


def guess_kind(path: Path) -> tuple[str, str] | None:
    """(kind, format) for a file or folder, or None when it is not a model Hearth knows."""
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix == ".gguf":
            return "chat", "gguf"
        if suffix in (".pth", ".pt"):
            return "sam", "pth"
        if suffix == ".safetensors":
            return "diffusion", "safetensors"
        if suffix == ".ckpt":
            return "diffusion", "ckpt"
        return None
    if not path.is_dir():
        return None
    if (path / "model_index.json").exists():
        return "diffusion", "diffusers"
    if (path / "modules.json").exists():
        return "embedding", "sentence-transformers"
    config = path / "config.json"
    if config.exists():
        try:
            data = json.loads(config.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        archs = " ".join(data.get("architectures") or [])
        cls = str(data.get("_class_name", ""))
        if "ControlNet" in cls:
            return "controlnet", "diffusers"
        if "AutoencoderTiny" in cls or "AutoencoderKL" in cls:
            return "vae", "diffusers"
        if "ForSequenceClassification" in archs:
            return "reranker", "transformers"
        if "DepthEstimation" in archs or "Dpt" in archs or "DPT" in archs:
            return "depth", "transformers"
    return None


def _entry(path: Path, kind: str | None) -> InstalledModel | None:
    guessed = guess_kind(path)
    if guessed is None:
        return None
    g_kind, fmt = guessed
    kind = kind or g_kind
    quant = None
    if fmt == "gguf":
        match = _QUANT.search(path.stem)
        quant = match.group(1).upper() if match else None
    return InstalledModel(path=path, kind=kind, name=path.stem if path.is_file() else path.name,
                          size_bytes=_size(path), format=fmt, quantization=quant)


def scan(models_dir: Path | None = None) -> list[InstalledModel]:
    root = models_dir or paths.models_dir()
    found: list[InstalledModel] = []
    if not root.exists():
        return found
    for child in sorted(root.iterdir()):
        if _is_partial(child):
            continue
        if child.is_dir() and child.name in KINDS:
            for item in sorted(child.iterdir()):
                if not _is_partial(item):
                    entry = _entry(item, child.name)
                    if entry is not None:
                        found.append(entry)
        else:
            entry = _entry(child, None)
            if entry is not None:
                found.append(entry)
    return found


def installed(kind: str | None = None, models_dir: Path | None = None) -> list[InstalledModel]:
    return [m for m in scan(models_dir) if kind is None or m.kind == kind]


def kind_dir(kind: str) -> Path:
    if kind not in KINDS:
        raise ValueError(f"unknown model kind {kind!r}")
    path = paths.models_dir() / kind
    path.mkdir(parents=True, exist_ok=True)
    return path
