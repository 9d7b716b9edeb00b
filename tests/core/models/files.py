"""Real model files for the Models tests, made by the libraries that make them for users: a tiny llama GGUF
(gguf's writer; llama.cpp loads it), safetensors files (the safetensors library), a tiny SAM checkpoint (torch.save
of segment_anything's modules) and a diffusers-style folder. Bytes are built once per test session."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import numpy as np


@functools.lru_cache(maxsize=None)
def gguf_bytes(seed: int = 0, n_embd: int = 128) -> bytes:
    """A tiny llama GGUF (~1.6 MB at n_embd=128, ~4.3 MB at 256)."""
    from tests.fixtures.tiny_gguf import write_tiny_llama

    with tempfile.TemporaryDirectory() as tmp:
        return write_tiny_llama(Path(tmp) / "tiny.gguf", n_embd=n_embd, seed=seed).read_bytes()


@functools.lru_cache(maxsize=None)
def safetensors_bytes(seed: int = 0, n: int = 256) -> bytes:
    """A safetensors file of two float32 tensors (n×n and n), with metadata."""
    from safetensors.numpy import save

    rng = np.random.default_rng(seed)
    return save({"layer.weight": rng.standard_normal((n, n)).astype(np.float32),
                 "layer.bias": rng.standard_normal(n).astype(np.float32)}, metadata={"format": "pt"})


@functools.lru_cache(maxsize=None)
def sam_bytes(seed: int = 0) -> bytes:
    """A tiny Segment Anything checkpoint as torch.save writes it (a zip archive)."""
    from tests.core.segment.tiny_sam import save_tiny_sam

    with tempfile.TemporaryDirectory() as tmp:
        return save_tiny_sam(Path(tmp) / "sam.pth", seed=seed).read_bytes()


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def diffusers_folder(root: Path) -> Path:
    """The layout of a diffusers pipeline folder: model_index.json, model components with config.json and
    safetensors weights, a scheduler and a tokenizer without weights, a disabled safety checker."""
    import json

    root.mkdir(parents=True, exist_ok=True)
    (root / "model_index.json").write_text(json.dumps({
        "_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.31.0",
        "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"],
        "text_encoder": ["transformers", "CLIPTextModel"], "tokenizer": ["transformers", "CLIPTokenizer"],
        "scheduler": ["diffusers", "PNDMScheduler"], "safety_checker": [None, None],
        "requires_safety_checker": False}))
    for i, component in enumerate(("unet", "vae")):
        write(root / component / "config.json", b"{}")
        write(root / component / "diffusion_pytorch_model.safetensors", safetensors_bytes(i, 32))
    write(root / "text_encoder" / "config.json", b"{}")
    write(root / "text_encoder" / "model.safetensors", safetensors_bytes(3, 32))
    write(root / "tokenizer" / "tokenizer_config.json", b"{}")
    write(root / "tokenizer" / "vocab.json", b'{"a": 0}')
    write(root / "scheduler" / "scheduler_config.json", b"{}")
    return root
