"""Read a GGUF file's header without loading it: metadata, tensor table, and whether the file is complete.

Fast (reads the header through mmap and skips big arrays such as the vocabulary), imports no ML library, and
turns every way a file can be wrong into a UserError that says what is wrong and what to do.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass, field
from pathlib import Path

from app.core.errors import IncompleteFile, UserError
from app.core.units import format_bytes

MAGIC = b"GGUF"
# GGUF value types -> struct format (scalars)
_SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
_KEEP_ARRAY = 64  # arrays longer than this (vocabularies, merges) are skipped, only their length is kept

# ggml tensor type -> (block size, bytes per block); a copy of gguf.constants.GGML_QUANT_SIZES so this module
# needs no import of the gguf package (which pulls numpy) on the GUI path. Unknown types fall back to gguf.
_TYPE_SIZES = {
    0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34), 9: (32, 40),
    10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176), 14: (256, 210), 15: (256, 292),
    16: (256, 66), 17: (256, 74), 18: (256, 98), 19: (256, 50), 20: (32, 18), 21: (256, 110), 22: (256, 82),
    23: (256, 136), 24: (1, 1), 25: (1, 2), 26: (1, 4), 27: (1, 8), 28: (1, 8), 29: (256, 56), 30: (1, 2),
    34: (256, 54), 35: (256, 66), 39: (32, 17), 40: (64, 36), 41: (128, 18),
}
# general.file_type -> quantization name (llama_ftype)
_FILE_TYPES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K", 11: "Q3_K_S",
    12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K",
    19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS", 23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL",
    26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S", 29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16",
    36: "TQ1_0", 37: "TQ2_0", 38: "MXFP4",
}


@dataclass
class GGUFInfo:
    """A GGUF file's header (format: github.com/ggml-org/ggml/blob/master/docs/gguf.md): its key/value metadata
    (large arrays such as the vocabulary skipped, their lengths kept), tensor count, and sizes in bytes."""

    path: Path
    version: int
    metadata: dict
    tensor_count: int
    file_size: int
    data_size: int  # bytes of tensor data the header describes
    array_lengths: dict = field(default_factory=dict)  # skipped arrays: key -> length

    def get(self, key: str, default=None):
        """A metadata value by its GGUF key ("general.name", "tokenizer.chat_template", …)."""
        return self.metadata.get(key, default)

    @property
    def architecture(self) -> str:
        """general.architecture: "llama", "gemma3", "qwen2"… ("" when missing)."""
        return str(self.metadata.get("general.architecture", "") or "")

    def arch_value(self, name: str, default=None):
        """A per-architecture key, e.g. arch_value("context_length") reads "<architecture>.context_length"."""
        return self.metadata.get(f"{self.architecture}.{name}", default)

    @property
    def name(self) -> str:
        """general.name, else the file name without .gguf."""
        return str(self.metadata.get("general.name") or self.path.stem)

    @property
    def context_length(self) -> int | None:
        """The context length (tokens) the model was trained with; None when the header does not say."""
        value = self.arch_value("context_length")
        return int(value) if isinstance(value, int) else None

    @property
    def block_count(self) -> int:
        """Transformer layers (0 when the header does not say)."""
        value = self.arch_value("block_count")
        return int(value) if isinstance(value, int) else 0

    @property
    def quantization(self) -> str | None:
        """general.file_type as llama.cpp names it ("Q4_K_M", "F16", …); None when missing or unknown."""
        ftype = self.metadata.get("general.file_type")
        return _FILE_TYPES.get(ftype) if isinstance(ftype, int) else None

    @property
    def chat_template(self) -> str | None:
        """The Jinja chat template stored in the file (None for base models without one)."""
        value = self.metadata.get("tokenizer.chat_template")
        return value if isinstance(value, str) and value.strip() else None

    @property
    def vocab_size(self) -> int:
        """Tokens in the vocabulary (the length of tokenizer.ggml.tokens)."""
        return int(self.array_lengths.get("tokenizer.ggml.tokens", 0) or self.arch_value("vocab_size", 0) or 0)

    def kv_cache_bytes(self, n_ctx: int) -> int:
        """f16 K and V for every layer (an upper bound: sliding-window layers use less)."""
        layers = self.block_count
        heads = self.arch_value("attention.head_count", 0) or 0
        heads_kv = self.arch_value("attention.head_count_kv", heads) or heads
        if isinstance(heads_kv, list):  # per-layer head counts
            heads_kv = max(heads_kv) if heads_kv else 0
        emb = self.arch_value("embedding_length", 0) or 0
        head_dim = emb // heads if heads else 0
        k_len = self.arch_value("attention.key_length", head_dim) or head_dim
        v_len = self.arch_value("attention.value_length", head_dim) or head_dim
        return int(n_ctx) * layers * int(heads_kv) * (int(k_len) + int(v_len)) * 2

    def compute_buffer_bytes(self, n_batch: int = 512) -> int:
        """llama.cpp reserves logits and activations for one batch; the logits dominate for big vocabularies."""
        emb = self.arch_value("embedding_length", 0) or 0
        ff = self.arch_value("feed_forward_length", 0) or 0
        if isinstance(ff, list):
            ff = max(ff) if ff else 0
        return n_batch * (self.vocab_size + 4 * int(emb) + 2 * int(ff)) * 4

    def memory_needed(self, n_ctx: int) -> int:
        """Bytes to run with a context of `n_ctx` tokens: weights + KV cache + one batch's compute buffer."""
        return self.data_size + self.kv_cache_bytes(n_ctx) + self.compute_buffer_bytes(min(512, n_ctx))


class _Reader:
    def __init__(self, buf, size: int) -> None:
        self.buf, self.pos, self.size = buf, 0, size

    def need(self, n: int) -> None:
        if self.pos + n > self.size:
            raise EOFError

    def scalar(self, fmt: str):
        n = struct.calcsize(fmt)
        self.need(n)
        (value,) = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += n
        return value

    def string(self) -> str:
        n = self.scalar("<Q")
        if n > 1 << 30:
            raise ValueError("string length out of range")
        self.need(n)
        raw = bytes(self.buf[self.pos:self.pos + n])
        self.pos += n
        return raw.decode("utf-8", errors="replace")

    def skip_string(self) -> None:
        n = self.scalar("<Q")
        self.need(n)
        self.pos += n

    def value(self, vtype: int, key: str, lengths: dict):
        if vtype in _SCALAR:
            return self.scalar(_SCALAR[vtype])
        if vtype == _STRING:
            return self.string()
        if vtype == _ARRAY:
            etype = self.scalar("<I")
            count = self.scalar("<Q")
            if count > 1 << 34:
                raise ValueError("array length out of range")
            if count > _KEEP_ARRAY:
                lengths[key] = count
                if etype == _STRING:
                    for _ in range(count):
                        self.skip_string()
                elif etype in _SCALAR:
                    n = struct.calcsize(_SCALAR[etype]) * count
                    self.need(n)
                    self.pos += n
                else:
                    raise ValueError(f"unsupported array element type {etype}")
                return None
            return [self.value(etype, key, lengths) for _ in range(count)]
        raise ValueError(f"unknown value type {vtype}")


def _tensor_bytes(ggml_type: int, dims: list[int]) -> int:
    sizes = _TYPE_SIZES.get(ggml_type)
    if sizes is None:
        try:
            from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

            sizes = GGML_QUANT_SIZES[GGMLQuantizationType(ggml_type)]
        except Exception:
            return 0
    block, nbytes = sizes
    count = 1
    for d in dims:
        count *= d
    return count // block * nbytes


def read(path: str | Path) -> GGUFInfo:
    """Parse the header. Raises UserError for a missing file, a non-GGUF file, or a truncated/damaged one."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"The model file {path} does not exist.")
    if path.is_dir():
        raise UserError(f"{path} is a folder. Choose a .gguf model file.")
    size = path.stat().st_size
    name = path.name
    with open(path, "rb") as fh:
        head = fh.read(4)
        if head != MAGIC:
            hint = " (it looks like a safetensors/PyTorch file)" if path.suffix in (".safetensors", ".bin", ".pt", ".pth") else ""
            raise UserError(f"{name} is not a GGUF model file{hint}. Chat needs a .gguf file "
                            "(for example from the Models tab, or a llama.cpp-compatible download).")
        try:
            buf = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except (ValueError, OSError) as exc:
            raise UserError(f"{name} could not be read: {exc}") from exc
    try:
        r = _Reader(buf, size)
        try:
            r.pos = 4
            version = r.scalar("<I")
            if version not in (1, 2, 3):
                raise UserError(f"{name} uses GGUF version {version}, which this Hearth cannot read. "
                                "Update Hearth or use a newer conversion of the model.")
            n_tensors = r.scalar("<Q")
            n_kv = r.scalar("<Q")
            if n_tensors > 1 << 24 or n_kv > 1 << 24:
                raise ValueError("header counts out of range")
            metadata: dict = {}
            lengths: dict = {}
            for _ in range(n_kv):
                key = r.string()
                vtype = r.scalar("<I")
                metadata[key] = r.value(vtype, key, lengths)
            data_end = 0
            for _ in range(n_tensors):
                r.skip_string()
                n_dims = r.scalar("<I")
                if n_dims > 8:
                    raise ValueError("tensor with too many dimensions")
                dims = [r.scalar("<Q") for _ in range(n_dims)]
                ggml_type = r.scalar("<I")
                offset = r.scalar("<Q")
                data_end = max(data_end, offset + _tensor_bytes(ggml_type, dims))
            align = metadata.get("general.alignment", 32)
            align = align if isinstance(align, int) and align > 0 else 32
            data_start = (r.pos + align - 1) // align * align
        except EOFError:
            raise IncompleteFile(f"{name} is incomplete: the file ends inside its header ({format_bytes(size)}). "
                                 "The download or copy was probably interrupted; download it again.", size) from None
        except (ValueError, struct.error, UnicodeError) as exc:
            raise UserError(f"{name} is damaged: its GGUF header cannot be read ({exc}). Download it again.") from None
    finally:
        buf.close()
    expected = data_start + data_end
    if size < expected:
        raise IncompleteFile(f"{name} is incomplete: it has {format_bytes(size)} of the {format_bytes(expected)} its "
                             "header describes. The download or copy was probably interrupted; download it again.",
                             size, expected)
    if not metadata.get("general.architecture"):
        raise UserError(f"{name} does not say which model architecture it is (no general.architecture), "
                        "so llama.cpp cannot run it.")
    return GGUFInfo(path=path, version=version, metadata=metadata, tensor_count=n_tensors, file_size=size,
                    data_size=data_end, array_lengths=lengths)


