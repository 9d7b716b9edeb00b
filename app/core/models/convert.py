"""Diffusion checkpoints → fp16 safetensors (about half the size of fp32, same pictures on GPU).

Works on a single .safetensors file or a diffusers folder (every .safetensors in it is converted, other files are
copied). Floating-point tensors become float16; integer tensors are kept. Pickle checkpoints (.ckpt/.bin) are
refused: Hearth does not unpickle files from the internet.

Hugging Face safetensors LLM → GGUF: not offered. No maintained package on PyPI ships llama.cpp's converter
(`convert_hf_to_gguf.py` lives in the llama.cpp repository; the `gguf` package only reads and writes the format),
so the README explains how to run it from a llama.cpp checkout, or to download a ready-made GGUF instead.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from app.core.errors import UserError
from app.core.units import format_bytes

GGUF_CONVERSION_HELP = (
    "Hearth cannot turn a Hugging Face safetensors language model into GGUF by itself: llama.cpp's converter "
    "(convert_hf_to_gguf.py) is not published on PyPI. Either download a ready-made GGUF (search the hub in the "
    "Models tab: most models have one), or run `python convert_hf_to_gguf.py MODEL_FOLDER --outtype f16` from a "
    "llama.cpp checkout (github.com/ggml-org/llama.cpp) and import the result; Hearth can then quantize it."
)


def _convert_file(src: Path, out: Path, state, done: list[int], total: int) -> None:
    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file

    tensors = {}
    with safe_open(str(src), framework="pt") as fh:
        metadata = dict(fh.metadata() or {})
        for key in fh.keys():
            state.check()
            t = fh.get_tensor(key)
            if t.is_floating_point() and t.dtype != torch.float16:
                t = t.to(torch.float16)
            tensors[key] = t.contiguous()
    metadata["hearth_converted"] = "fp16"
    tmp = out.with_name(f".{out.name}.part")
    save_file(tensors, str(tmp), metadata=metadata)
    os.replace(tmp, out)
    done[0] += src.stat().st_size
    state.progress(done[0] / total if total else None, f"Converted {src.name}")


def to_fp16(inputs: dict, state):
    """Job: inputs = {"src": file or folder, "out": optional}. Returns the output path."""
    src = Path(inputs["src"]).expanduser().resolve()
    if not src.exists():
        raise UserError(f"{src} does not exist.")
    if src.is_file() and src.suffix.lower() in (".ckpt", ".bin", ".pt", ".pth"):
        raise UserError(f"{src.name} is a pickle checkpoint; Hearth only converts .safetensors files. "
                        "Use a .safetensors version of this model.")
    if src.is_file() and src.suffix.lower() != ".safetensors":
        raise UserError(f"{src.name} is not a .safetensors file or a diffusers folder.")
    default = src.with_name(f"{src.stem}-fp16.safetensors") if src.is_file() else src.with_name(f"{src.name}-fp16")
    out = Path(inputs.get("out") or default).expanduser().resolve()
    if out.exists():
        raise UserError(f"{out} already exists; choose another name or remove it first.")
    files = [src] if src.is_file() else [p for p in sorted(src.rglob("*")) if p.is_file()]
    weights = [p for p in files if p.suffix == ".safetensors"]
    if not weights:
        raise UserError(f"No .safetensors files in {src}.")
    total = sum(p.stat().st_size for p in weights)
    if shutil.disk_usage(out.parent).free < total // 2 + 10**7:
        raise UserError(f"Not enough disk space in {out.parent} for the fp16 copy (about {format_bytes(total / 2)}).")
    done = [0]
    if src.is_file():
        _convert_file(src, out, state, done, total)
        return out
    tmp = out.with_name(f".{out.name}.part")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        for p in files:
            target = tmp / p.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            if p.suffix == ".safetensors":
                _convert_file(p, target, state, done, total)
            else:
                shutil.copy2(p, target)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out
