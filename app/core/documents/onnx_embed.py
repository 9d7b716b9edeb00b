"""ONNX Runtime backend for sentence-transformers embedders: the model is exported once (transformer + pooling +
L2 normalisation in one graph), fused with ONNX Runtime's transformer optimizer, dynamically quantised to int8, and
cached per embedder under `models/embedding/.onnx-cache/<hash>/`.

Why: on a laptop CPU the int8 graph embeds ~3x as many chunks per second as `SentenceTransformer.encode` (torch,
fp32) with cosine ≥ 0.98 to the torch vectors (per-channel weight scales; per-tensor scales drift to ~0.95), see
tests/benchmarks/rag_ingest.py. Sources: ONNX Runtime "Quantize ONNX models" (dynamic quantization for transformer
models) and onnxruntime.transformers.optimizer (Attention / SkipLayerNormalization fusion for BERT).

Not every model quantises well (all-mpnet-base-v2's int8 graph reaches only cosine 0.88): an export that disagrees
with torch is refused, and the embedder then uses the fp32 graph.

Only the common sentence-transformers layout is exported: Transformer → Pooling (mean or CLS) → optional Normalize.
Anything else (Dense layers, other poolings) raises `OnnxUnavailable` and the caller keeps torch.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import tempfile
import threading
from pathlib import Path

EXPORT_VERSION = 1  # bump when the exported graph changes, so old caches are not reused
OPSET = 17
# On CPU, small batches of similar length pad less and stay in cache: on the R manuals' 5,489 chunks, sub-batches of
# 16 ran 56 chunks/s against 44 for the indexer's batches of 64 (2 cores).
CPU_BATCH = 16
_PROBES = ["How do I move the legend outside the plot?", "Der Schlüssel liegt unter der Matte.",
           "set -e makes the shell exit when a command fails " * 8, "x"]


class OnnxUnavailable(Exception):
    """The model cannot be run by the ONNX backend (layout not supported, export or check failed)."""


def cache_key(model_dir: Path, quantize: bool) -> str:
    """Hash of what the exported file depends on: every model file's name, size and mtime, the export settings and
    the exporting libraries' versions. 16 hex digits."""
    import onnxruntime
    import torch

    parts = [f"v{EXPORT_VERSION}", f"q{int(quantize)}", torch.__version__, onnxruntime.__version__,
             str(model_dir.resolve())]
    for path in sorted(model_dir.rglob("*")):
        if path.is_file():
            st = path.stat()
            parts.append(f"{path.relative_to(model_dir)}:{st.st_size}:{st.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _pooling_mode(st_model) -> str:
    modules = list(st_model)
    names = [type(m).__name__ for m in modules]
    if len(modules) < 2 or names[0] != "Transformer" or names[1] != "Pooling" or \
            any(n != "Normalize" for n in names[2:]):
        raise OnnxUnavailable(f"unsupported module layout {names}")
    mode = getattr(modules[1], "pooling_mode", None)
    if isinstance(mode, (list, tuple)) and len(mode) == 1:
        mode = mode[0]
    if mode not in ("mean", "cls"):
        raise OnnxUnavailable(f"unsupported pooling {mode!r}")
    return mode


def export(st_model, out_dir: Path, quantize: bool = True) -> Path:
    """Write `model.onnx` (inputs: the tokenizer's int64 tensors (batch, seq); output `embedding` (batch, dim),
    L2-normalised float32) into out_dir and return its path. Raises OnnxUnavailable."""
    import torch

    mode = _pooling_mode(st_model)
    transformer = st_model[0].auto_model
    names = [n for n in st_model.tokenizer.model_input_names if n in ("input_ids", "attention_mask", "token_type_ids")]
    if "input_ids" not in names or "attention_mask" not in names:
        raise OnnxUnavailable(f"unsupported tokenizer inputs {names}")

    class Graph(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.transformer = transformer

        def forward(self, *inputs):
            feed = dict(zip(names, inputs))
            hidden = self.transformer(**feed).last_hidden_state
            if mode == "cls":
                vector = hidden[:, 0]
            else:
                mask = feed["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                vector = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(vector, p=2.0, dim=1)

    sample = st_model.tokenizer(["a short probe", "a somewhat longer probe sentence for export"], padding=True,
                                return_tensors="pt")
    raw = out_dir / "raw.onnx"
    # Eager attention exports as plain MatMul/Softmax, which the optimizer below fuses into one Attention node; the
    # SDPA path exports a pattern it does not recognise.
    previous = getattr(transformer.config, "_attn_implementation", None)
    try:
        if previous is not None:
            transformer.config._attn_implementation = "eager"
        with torch.no_grad():
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(Graph().eval(), tuple(sample[n] for n in names), str(raw), input_names=names,
                                  output_names=["embedding"], opset_version=OPSET, dynamo=False,
                                  dynamic_axes={**{n: {0: "batch", 1: "sequence"} for n in names},
                                                "embedding": {0: "batch"}})
    except Exception as exc:  # noqa: BLE001 - any exporter failure means: keep torch
        raise OnnxUnavailable(f"export failed: {type(exc).__name__}: {exc}") from exc
    finally:
        if previous is not None:
            transformer.config._attn_implementation = previous
    current = raw
    config = transformer.config
    if config.model_type == "bert":
        from onnxruntime.transformers.optimizer import optimize_model

        optimized = optimize_model(str(raw), model_type="bert", num_heads=int(config.num_attention_heads),
                                   hidden_size=int(config.hidden_size), opt_level=1)
        current = out_dir / "optimized.onnx"
        optimized.save_model_to_file(str(current))
    final = out_dir / "model.onnx"
    if quantize:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        import logging

        hint = _DropHint()  # quantize_dynamic logs a pre-processing suggestion on the root logger
        logging.getLogger().addFilter(hint)
        try:
            quantize_dynamic(str(current), str(final), weight_type=QuantType.QInt8, per_channel=True,
                             extra_options={"DefaultTensorType": 1})  # 1 = FLOAT, for outputs of fused ops
        finally:
            logging.getLogger().removeFilter(hint)
    else:
        shutil.copyfile(current, final)
    for path in (raw, out_dir / "optimized.onnx"):
        path.unlink(missing_ok=True)
    return final


class _DropHint:
    def filter(self, record) -> bool:
        return "pre-processing before quantization" not in record.getMessage()


class OnnxEncoder:
    """Runs an exported embedder: texts → L2-normalised float32 vectors (n, dim). Length-sorted batches (padding
    only to the longest text of a batch of similar lengths), truncation at max_seq_length tokens."""

    def __init__(self, path: Path, tokenizer, max_seq_length: int, threads: int | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads or default_threads()
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.dimension = int(self.session.get_outputs()[0].shape[1] or 0)
        self.tokenizer = tokenizer
        self.max_seq_length = max_seq_length
        self._lock = threading.Lock()  # the fast tokenizer is not safe to share across threads

    def encode(self, texts: list[str], batch_size: int = 32):
        """Vectors (len(texts), dim) float32. Runs in sub-batches of at most CPU_BATCH texts of similar length."""
        import numpy as np

        batch_size = max(1, min(batch_size, CPU_BATCH))
        with self._lock:
            ids = self.tokenizer(list(texts), truncation=True, max_length=self.max_seq_length)["input_ids"]
            order = sorted(range(len(texts)), key=lambda i: -len(ids[i]))
            out = None
            for start in range(0, len(order), batch_size):
                index = order[start:start + batch_size]
                batch = self.tokenizer([texts[i] for i in index], padding=True, truncation=True,
                                       max_length=self.max_seq_length, return_tensors="np")
                feed = {name: batch[name].astype(np.int64) for name in self.inputs}
                vectors = self.session.run(None, feed)[0]
                if out is None:
                    out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
                out[index] = vectors
        return out


def default_threads() -> int:
    """Physical cores when psutil knows them, else logical CPUs."""
    try:
        import psutil

        return max(1, psutil.cpu_count(logical=False) or os.cpu_count() or 1)
    except Exception:  # noqa: BLE001
        return max(1, os.cpu_count() or 1)


MIN_COSINE = {True: 0.97, False: 0.999}  # agreement with torch an export must reach (int8, fp32)


def load(st_model, model_dir: Path, cache_root: Path, quantize: bool = True) -> OnnxEncoder:
    """The cached ONNX encoder of a loaded SentenceTransformer, exporting (and checking it against torch) on first
    use. Raises OnnxUnavailable when the model cannot be exported or the export disagrees with torch; the failure is
    remembered in the cache (failed.json), so later loads do not pay for the export again."""
    folder = cache_root / cache_key(model_dir, quantize)
    model_path = folder / "model.onnx"
    failed = folder / "failed.json"
    if failed.exists():
        raise OnnxUnavailable(json.loads(failed.read_text()).get("reason", "export failed before"))
    tokenizer = copy.deepcopy(st_model.tokenizer)  # its own: encode() and count_tokens() may run meanwhile
    max_len = int(st_model.max_seq_length or 256)
    if not model_path.exists():
        cache_root.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".export-", dir=cache_root))
        try:
            export(st_model, work, quantize)
            encoder = OnnxEncoder(work / "model.onnx", tokenizer, max_len)
            worst = _agreement(st_model, encoder)
            if worst < MIN_COSINE[quantize]:
                raise OnnxUnavailable(f"exported {'int8 ' if quantize else ''}model disagrees with torch "
                                      f"(cosine {worst:.3f})")
            (work / "info.json").write_text(json.dumps({"model": str(model_dir), "quantized": quantize,
                                                        "min_cosine_to_torch": round(worst, 5)}))
            try:
                work.rename(folder)
            except OSError:  # another process finished first: use its copy
                pass
        except OnnxUnavailable as exc:
            folder.mkdir(parents=True, exist_ok=True)
            failed.write_text(json.dumps({"model": str(model_dir), "quantized": quantize, "reason": str(exc)}))
            raise
        finally:
            shutil.rmtree(work, ignore_errors=True)
    try:
        return OnnxEncoder(model_path, tokenizer, max_len)
    except Exception as exc:  # noqa: BLE001 - a damaged cache file: drop it, the next load exports again
        shutil.rmtree(folder, ignore_errors=True)
        raise OnnxUnavailable(f"cannot load {model_path}: {exc}") from exc


def _agreement(st_model, encoder: OnnxEncoder) -> float:
    """Smallest cosine between torch and ONNX vectors of a few probe texts (padding and truncation included)."""
    import numpy as np

    reference = st_model.encode(_PROBES, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
    return float(np.min(np.sum(reference * encoder.encode(_PROBES, batch_size=2), axis=1)))
