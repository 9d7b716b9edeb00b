"""Re-quantize an F32/F16/BF16 GGUF with llama.cpp's quantizer (`llama_model_quantize` from llama-cpp-python).

`llama_model_quantize` has no progress callback and cannot be interrupted, so it runs in a child process
(multiprocessing, spawn): the child installs a llama.cpp log callback that forwards the per-tensor lines
("[  12/ 201] blk.1.attn_q.weight ...") to the parent, which turns them into real progress; Cancel terminates the
child and deletes its partial output at once. The output is written under a hidden name and renamed when complete,
so the registry never lists a half-written file.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import re
from pathlib import Path

from app.core.errors import JobCancelled, UserError
from app.core.units import format_bytes

TYPES = ["Q8_0", "Q6_K", "Q5_K_M", "Q5_K_S", "Q4_K_M", "Q4_K_S", "Q4_0", "Q3_K_M", "Q3_K_L", "Q2_K", "IQ4_XS"]
SOURCE_TYPES = ("F32", "F16", "BF16")
_PROGRESS = re.compile(r"\[\s*(\d+)\s*/\s*(\d+)\s*\]")
_SUFFIX = re.compile(r"(?i)[-._](F32|F16|BF16|FP16|FP32)$")


def source_type(path: Path) -> str:
    """'F32' | 'F16' | 'BF16' for a GGUF whose matrices are unquantized; raises UserError otherwise."""
    from gguf import GGMLQuantizationType, GGUFReader

    path = Path(path)
    if not path.exists():
        raise UserError(f"{path} does not exist.")
    if path.suffix.lower() != ".gguf":
        raise UserError(f"{path.name} is not a .gguf file. To make a GGUF from a Hugging Face safetensors model, "
                        "see 'Converting safetensors to GGUF' in the README.")
    try:
        reader = GGUFReader(str(path))
    except Exception as exc:  # noqa: BLE001 - gguf raises ValueError/struct errors on garbage
        raise UserError(f"{path.name} is not a readable GGUF file ({exc}).") from exc
    counts: dict[str, int] = {}
    for tensor in reader.tensors:
        if len(tensor.shape) >= 2 and int(tensor.shape[0]) > 1 and int(tensor.shape[1]) > 1:
            name = GGMLQuantizationType(tensor.tensor_type).name
            counts[name] = counts.get(name, 0) + 1
    if not counts:
        raise UserError(f"{path.name} has no weight matrices to quantize.")
    main = max(counts, key=counts.get)
    if main not in SOURCE_TYPES:
        raise UserError(f"{path.name} is already quantized ({main}). Quantizing again loses quality; start from an "
                        "F16, BF16 or F32 GGUF (or download the quantization you want).")
    return main


def default_output(src: Path, qtype: str) -> Path:
    """models/chat/<name without its F16/F32/BF16 suffix>-<qtype>.gguf."""
    stem = _SUFFIX.sub("", Path(src).stem)
    from app.core.models import registry

    return registry.kind_dir("chat") / f"{stem}-{qtype}.gguf"


def _child(src: str, tmp: str, ftype: int, nthread: int, messages) -> None:  # runs in the child process
    import ctypes

    import llama_cpp

    @llama_cpp.llama_log_callback
    def on_log(level, text, _user):
        try:
            line = text.decode("utf-8", "replace")
        except Exception:  # noqa: BLE001
            return
        match = _PROGRESS.search(line)
        if match:
            messages.put(("progress", int(match.group(1)), int(match.group(2))))

    llama_cpp.llama_log_set(on_log, ctypes.c_void_p(0))
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = nthread
    result = llama_cpp.llama_model_quantize(src.encode(), tmp.encode(), ctypes.byref(params))
    messages.put(("result", int(result), 0))


def quantize(inputs: dict, state):
    """Job: inputs = {"src": path, "type": "Q4_K_M", "out": optional path, "threads": optional int}.
    Returns the registered InstalledModel of the output."""
    from app.core.models import registry

    src = Path(inputs["src"]).expanduser().resolve()
    qtype = str(inputs["type"]).upper()
    if qtype not in TYPES:
        raise UserError(f"Unknown quantization type {qtype}; choose one of {', '.join(TYPES)}.")
    src_type = source_type(src)
    out = Path(inputs.get("out") or default_output(src, qtype)).expanduser().resolve()
    if out.suffix.lower() != ".gguf":
        out = out.with_name(out.name + ".gguf")
    if out.exists():
        raise UserError(f"{out} already exists; choose another output name or remove it first.")
    if out == src:
        raise UserError("The output must be a different file from the source.")
    out.parent.mkdir(parents=True, exist_ok=True)
    import shutil

    estimate = src.stat().st_size  # never larger than the source
    if shutil.disk_usage(out.parent).free < estimate:
        raise UserError(f"Not enough disk space in {out.parent} for the quantized file (up to {format_bytes(estimate)}).")
    import llama_cpp  # noqa: F401 - the enum lives there; fail here, clearly, if the engine is missing

    ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{qtype}")
    tmp = out.with_name(f".{out.name}.part")
    ctx = mp.get_context("spawn")
    messages = ctx.Queue()
    threads = int(inputs.get("threads") or max(1, (os.cpu_count() or 2) - 1))
    proc = ctx.Process(target=_child, args=(str(src), str(tmp), ftype, threads, messages), daemon=True)
    state.progress(None, f"Starting llama.cpp quantizer ({src_type} → {qtype})")
    proc.start()
    result = None
    try:
        while True:
            if state.cancelled:
                proc.terminate()
                proc.join(5)
                raise JobCancelled()
            try:
                kind, a, b = messages.get(timeout=0.1)
            except queue.Empty:
                if not proc.is_alive():
                    try:  # drain what the child sent just before exiting
                        kind, a, b = messages.get(timeout=0.5)
                    except queue.Empty:
                        break
                else:
                    continue
            if kind == "progress" and b:
                state.progress(a / b, f"Quantizing {src.name} → {qtype}: tensor {a} of {b}")
            elif kind == "result":
                result = a
                break
        proc.join(30)
        if result is None or result != 0 or proc.exitcode not in (0, None):
            raise UserError(f"llama.cpp could not quantize {src.name} (result {result}, exit code {proc.exitcode}). "
                            "See the log for llama.cpp's message.")
        if not tmp.exists() or tmp.stat().st_size == 0:
            raise UserError(f"llama.cpp reported success but wrote no output for {src.name}.")
        from app.core.models import validate

        try:  # never register a truncated or damaged output (a full disk, a crash while writing)
            validate.check_file(tmp, "chat", name=out.name)
        except UserError as exc:
            raise UserError(f"llama.cpp's output is not a whole GGUF, so it was deleted: {exc}") from exc
        os.replace(tmp, out)
    finally:
        if proc.is_alive():
            proc.terminate()
            proc.join(5)
        if tmp.exists():
            tmp.unlink()
        messages.close()
    root = registry.paths.models_dir().resolve()
    if root in out.parents:
        registry.record_source(out, {"quantized_from": str(src), "quantization": qtype, "source_type": src_type})
    state.progress(1.0, f"Quantized to {qtype}: {format_bytes(out.stat().st_size)} (from {format_bytes(src.stat().st_size)})")
    models = [m for m in registry.scan() if m.path.resolve() == out]
    if models:
        return models[0]
    return registry.InstalledModel(path=out, kind="chat", name=out.stem, size_bytes=out.stat().st_size,
                                   format="gguf", quantization=qtype)

