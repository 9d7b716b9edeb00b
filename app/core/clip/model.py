"""A CLIP model from a local folder: transformers' CLIPModel + CLIPProcessor, embeddings as unit vectors.

CLIP (Radford et al. 2021, "Learning Transferable Visual Models From Natural Language Supervision") maps images and
texts into one space where the cosine of an image and a text says how well the text describes the image. Hearth
uses it to find photos by describing them and to label an object from a list (zero-shot).

The model is kept loaded between searches (`shared_encoder`); torch and transformers are imported on first use.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

import numpy as np

from app.core.errors import UserError

KIND = "clip"
_lock = threading.Lock()
_shared: "ClipEncoder | None" = None


def resolve_model(ref: str | Path | None = None) -> Path:
    """The CLIP folder to use: a folder path, an installed model's name/id, or (None) the first installed CLIP.

    Raises UserError when nothing fits, saying how to get one."""
    from app.core.models import registry

    if ref:
        path = Path(ref).expanduser()
        if path.exists():
            return check_folder(path)
        found = registry.find(str(ref))
        if found is None:
            raise UserError(f"No CLIP model '{ref}': give a folder (with config.json and model.safetensors) or an "
                            "installed model's name (`hearth models list --kind clip`).")
        return check_folder(found.path)
    installed = registry.installed(KIND)
    if not installed:
        raise UserError("No CLIP model is installed. Download one with `hearth models download "
                        "clip-vit-base-patch32` (or the Models tab), or give --model FOLDER.")
    return check_folder(installed[0].path)


def check_folder(path: Path) -> Path:
    """UserError unless `path` is a Hugging Face CLIP folder (config.json naming CLIPModel / model_type clip)."""
    if not path.is_dir():
        raise UserError(f"{path} is a file; a CLIP model is a folder with config.json and model.safetensors.")
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise UserError(f"{path.name} has no readable config.json, so it is not a Hugging Face CLIP model "
                        "folder.") from None
    archs = config.get("architectures") or []
    if config.get("model_type") != "clip" and "CLIPModel" not in archs:
        raise UserError(f"{path.name} is a '{config.get('model_type') or 'unknown'}' model, not CLIP. Choose a CLIP "
                        "model folder (for example openai/clip-vit-base-patch32).")
    return path


class ClipEncoder:
    """A loaded CLIP. `embed_images` / `embed_texts` return float32 arrays of shape (n, dim), rows of unit length.

    `key` names the model in the embedding cache: its folder and the size and time of its weights, so a model
    replaced in place gets fresh embeddings."""

    def __init__(self, path: Path, model, processor, device: str) -> None:
        self.path = path
        self.model = model
        self.processor = processor
        self.device = device
        self.dim = int(model.config.projection_dim)
        self.logit_scale = float(model.logit_scale.exp().item())
        self.key = model_key(path)
        size = getattr(processor.image_processor, "size", {}) or {}
        self.input_side = int(size.get("shortest_edge") or size.get("height") or 224)

    @classmethod
    def load(cls, path: str | Path, device: str = "auto") -> "ClipEncoder":
        path = check_folder(Path(path).expanduser())
        import torch
        from transformers import CLIPModel, CLIPProcessor
        from transformers.utils import logging as hf_logging

        from app.core.segment.model import best_device, limit_cpu_threads

        hf_logging.disable_progress_bar()
        device = best_device(device or "auto")
        if device == "cpu":
            limit_cpu_threads()
        try:
            processor = CLIPProcessor.from_pretrained(path, local_files_only=True)
            dtype = torch.float16 if device == "cuda" else torch.float32
            model = CLIPModel.from_pretrained(path, local_files_only=True, dtype=dtype).to(device).eval()
        except (OSError, ValueError, KeyError) as exc:
            raise UserError(f"The CLIP model in {path.name} could not be loaded: {exc}".rstrip(".") + ". Download "
                            "it again, or choose another CLIP folder.") from None
        return cls(path, model, processor, device)

    def embed_images(self, images: list) -> np.ndarray:
        """PIL RGB images → (len(images), dim) unit vectors."""
        if not images:
            return np.zeros((0, self.dim), np.float32)
        import torch

        inputs = self.processor(images=images, return_tensors="pt")
        pixels = inputs["pixel_values"].to(self.device, self.model.dtype)
        with torch.inference_mode():
            out = self.model.get_image_features(pixel_values=pixels)
        return _unit(out)

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """Texts → (len(texts), dim) unit vectors (CLIP reads at most 77 tokens; longer texts are cut)."""
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        import torch

        inputs = self.processor(text=list(texts), return_tensors="pt", padding=True, truncation=True)
        inputs = {k: v.to(self.device) for k, v in inputs.items()}
        with torch.inference_mode():
            out = self.model.get_text_features(**inputs)
        return _unit(out)

    def close(self) -> None:
        self.model = None


def _unit(out) -> np.ndarray:
    """get_*_features output (a tensor, or transformers 5's output object) → L2-normalised float32 numpy rows."""
    tensor = out if hasattr(out, "detach") else out.pooler_output
    arr = tensor.detach().float().cpu().numpy()
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    return (arr / np.maximum(norms, 1e-12)).astype(np.float32)


def model_key(path: Path) -> str:
    h = hashlib.blake2b(digest_size=8)
    h.update(str(path.resolve()).encode())
    for f in sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin")) + [path / "config.json"]:
        if f.is_file():
            st = f.stat()
            h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return f"{path.name}-{h.hexdigest()}"


def shared_encoder(path: str | Path, device: str = "auto") -> ClipEncoder:
    """The loaded encoder for `path`, loading it (and dropping another) when needed. Thread-safe."""
    global _shared
    path = Path(path).expanduser()
    with _lock:
        if _shared is None or _shared.path != path or _shared.key != model_key(path):
            _shared = None
            _shared = ClipEncoder.load(path, device)
        return _shared
