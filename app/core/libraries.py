"""The libraries Hearth drives (its engines): their versions (cheap, from package metadata) and an import check (for doctor)."""

from __future__ import annotations

import importlib
import importlib.metadata as md
import time
from dataclasses import dataclass

# (import name, distribution name, what it does in Hearth)
LIBRARIES: list[tuple[str, str, str]] = [
    ("PySide6", "PySide6-Essentials", "GUI"),
    ("torch", "torch", "tensor engine for images and segment"),
    ("torchvision", "torchvision", "image ops for Segment Anything"),
    ("llama_cpp", "llama-cpp-python", "chat models (llama.cpp)"),
    ("diffusers", "diffusers", "image generation"),
    ("transformers", "transformers", "text encoders, depth"),
    ("sentence_transformers", "sentence-transformers", "document embeddings"),
    ("chromadb", "chromadb", "document store"),
    ("segment_anything", "segment-anything", "Segment Anything"),
    ("pypdfium2", "pypdfium2", "PDF text (PDFium)"),
    ("rapidocr", "rapidocr", "OCR of scanned pages and images (PP-OCR on ONNX Runtime)"),
    ("cv2", "opencv-python-headless", "image processing"),
    ("huggingface_hub", "huggingface_hub", "model downloads"),
]


def version_of(dist: str) -> str:
    """The installed version of distribution `dist` (from its metadata, nothing imported), or "not installed"."""
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return "not installed"


def versions() -> dict[str, str]:
    """{import name: version}, from package metadata; imports nothing heavy."""
    return {module: version_of(dist) for module, dist, _ in LIBRARIES}


@dataclass
class ImportCheck:
    """The result of importing one library: its version, the seconds the import took, the error if it failed."""

    module: str
    version: str
    seconds: float
    error: str = ""

    @property
    def ok(self) -> bool:
        """The import worked."""
        return not self.error


def check_import(module: str, dist: str) -> ImportCheck:
    """Import `module` and time it (a broken native library raising OSError counts as a failure too)."""
    start = time.perf_counter()
    try:
        mod = importlib.import_module(module)
    except Exception as exc:  # ImportError, or a broken native library raising OSError
        return ImportCheck(module, version_of(dist), time.perf_counter() - start, f"{type(exc).__name__}: {exc}")
    elapsed = time.perf_counter() - start
    return ImportCheck(module, getattr(mod, "__version__", None) or version_of(dist), elapsed)
