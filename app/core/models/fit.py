"""Hardware fit: does a model fit this machine's memory? Labels "fits", "tight", "won't fit".

Memory budget (documented in the README, tested in tests/core/models/test_fit.py):

- CPU only, or Apple Silicon (unified memory): the model runs from RAM.
    fits       need <= 60 % of RAM   (leaves room for the OS, the app and your other programs)
    tight      need <= 85 % of RAM   (runs, but close the browser; may swap)
    won't fit  otherwise
- NVIDIA (CUDA): the model runs from VRAM.
    fits       need <= 90 % of VRAM
    tight      need <= 90 % of VRAM + 50 % of RAM   (part of it runs on the CPU: works, slower)
    won't fit  otherwise

"need" is the catalog's memory figure: for chat GGUFs the weights x 1.1 plus the entry's overhead (KV cache for a
4k context and compute buffers).

Recommendation among an entry's quantizations: the highest quality that "fits" (quality ladder: Q8_0 best, Q6_K,
Q5_K_M higher quality, Q4_K_M recommended balance, then smaller ones); if none fits, the smallest that is "tight";
if none is even tight, nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core.units import format_bytes

FITS, TIGHT, WONT_FIT = "fits", "tight", "won't fit"

CPU_FITS, CPU_TIGHT = 0.60, 0.85
VRAM_FITS, RAM_SPILL = 0.90, 0.50

# Best first. Unknown labels (fp16/fp32 for non-GGUF kinds) rank by size only.
QUALITY = ["F32", "BF16", "F16", "Q8_0", "Q6_K", "Q5_K_M", "Q5_K_S", "Q5_0", "Q4_K_M", "Q4_K_S", "Q4_0", "IQ4_XS",
           "Q3_K_L", "Q3_K_M", "Q3_K_S", "IQ3_M", "Q2_K"]
NOTES = {"Q8_0": "best", "Q6_K": "very high quality", "Q5_K_M": "higher quality", "Q4_K_M": "recommended",
         "Q4_0": "smaller, lower quality", "Q3_K_L": "smallest, noticeably lower quality"}


@dataclass(frozen=True)
class Memory:
    """The memory a model can use here, in bytes."""

    ram_bytes: int
    vram_bytes: int = 0  # CUDA VRAM; 0 = no CUDA GPU
    unified: bool = False  # Apple Silicon: GPU shares RAM

    @classmethod
    def from_device(cls, info) -> "Memory":
        """From app.core.devices.DeviceInfo."""
        cuda = [g for g in info.gpus if g.kind == "cuda" and g.memory_bytes]
        if cuda:
            return cls(info.ram_bytes, max(g.memory_bytes for g in cuda), False)
        unified = any(g.kind == "metal" for g in info.gpus)
        return cls(info.ram_bytes, 0, unified)

    @property
    def describe(self) -> str:
        """"8.59 GB RAM", "25.8 GB unified memory" or "24.0 GB VRAM + 68.7 GB RAM"."""
        if self.vram_bytes:
            return f"{format_bytes(self.vram_bytes)} VRAM + {format_bytes(self.ram_bytes)} RAM"
        what = "unified memory" if self.unified else "RAM"
        return f"{format_bytes(self.ram_bytes)} {what}"


def label(need_bytes: int, mem: Memory) -> str:
    """FITS, TIGHT or WONT_FIT for a model needing `need_bytes`: on CPU / unified memory ≤ 60 % of RAM fits,
    ≤ 85 % is tight; with CUDA ≤ 90 % of VRAM fits, ≤ that + 50 % of RAM (layers spilled to the CPU) is tight."""
    if mem.vram_bytes:
        if need_bytes <= VRAM_FITS * mem.vram_bytes:
            return FITS
        if need_bytes <= VRAM_FITS * mem.vram_bytes + RAM_SPILL * mem.ram_bytes:
            return TIGHT
        return WONT_FIT
    if need_bytes <= CPU_FITS * mem.ram_bytes:
        return FITS
    if need_bytes <= CPU_TIGHT * mem.ram_bytes:
        return TIGHT
    return WONT_FIT


def _rank(quant: str | None) -> int:
    q = (quant or "").upper()
    return QUALITY.index(q) if q in QUALITY else len(QUALITY)


def labels(entry, mem: Memory) -> dict:
    """{variant: label} for every variant of a catalog entry."""
    return {v: label(entry.memory_bytes(v), mem) for v in entry.files}


def recommend(entry, mem: Memory, max_size: int | None = None):
    """The variant to suggest on this machine, or None when nothing fits even tightly. `max_size` (bytes): leave
    out bigger files (the starter set keeps CPU-only chat models small enough to be quick)."""
    marks = {v: m for v, m in labels(entry, mem).items() if max_size is None or v.size_bytes <= max_size}
    fitting = [v for v, m in marks.items() if m == FITS]
    if fitting:
        return min(fitting, key=lambda v: (_rank(v.quantization), -v.size_bytes))
    tight = [v for v, m in marks.items() if m == TIGHT]
    if tight:
        return min(tight, key=lambda v: v.size_bytes)
    return None


def note(quant: str | None) -> str:
    """What a quantization means for quality ("recommended", "best"…; "" for others)."""
    return NOTES.get((quant or "").upper(), "")
