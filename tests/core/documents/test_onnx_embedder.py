"""The ONNX Runtime embedder (exported, int8) against the torch one, with the real all-MiniLM-L6-v2."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.documents import embedder as embedders
from app.core.documents import onnx_embed

PASSAGES = [
    "Mount the heater on a solid wall at least thirty centimetres above the floor with the four screws supplied.",
    "Unplug the heater and let it cool down before cleaning; vacuum the dust filter every month.",
    "Error code XK-4471-Q means the tilt sensor tripped: stand the unit upright and press reset.",
    "The warranty covers manufacturing defects for five years from the date of purchase.",
    "Tomatoes need at least six hours of direct sunlight each day and deep watering twice a week.",
    "Aphids gather under the leaves; spray them off with water or invite ladybirds into the garden.",
    "To leave the program, type q() at the prompt; you are asked whether to save the workspace.",
    "The legend can be placed outside the plotting area with set key outside right.",
    "set -e makes the shell exit immediately when a pipeline returns a non-zero status.",
    "Use git stash to put away uncommitted changes and restore them later with git stash pop.",
    "The umask sets which permission bits are cleared on files a process creates.",
    "Bake the bread at 220 degrees for thirty minutes until the crust sounds hollow when tapped.",
]
QUERIES = [
    "how do I hang it on the wall", "how often should the filter be cleaned", "what does XK-4471-Q mean",
    "how long is the guarantee", "how much sun do tomato plants need", "little green insects on my plants",
    "how do I quit", "the key box covers my curves", "stop the script when a command fails",
    "save my work in progress without committing", "default permissions of new files", "oven temperature",
]


def _top(vectors, queries, k=3):
    return [list(np.argsort(-(vectors @ q))[:k]) for q in queries]


@pytest.mark.slow
def test_onnx_embedder_gives_the_same_top_hits_as_torch(hearth_home):
    torch_model = embedders.get_embedder(backend="torch")
    # A fresh one (not the process-wide cached embedder), so it exports into this test's data folder.
    onnx_model = embedders.Embedder(embedders.BUILTIN, embedders.builtin_path(), backend="onnx")
    assert torch_model.backend == "torch"
    assert onnx_model.backend == "onnx", onnx_model.backend_note
    # Exported once into the data folder's cache, with what it was checked against.
    cached = list((hearth_home / "models" / "embedding" / ".onnx-cache").glob("*/model.onnx"))
    assert len(cached) == 1 and (cached[0].parent / "info.json").exists()

    t_docs, o_docs = torch_model.encode(PASSAGES), onnx_model.encode(PASSAGES, batch_size=5)
    assert o_docs.shape == t_docs.shape == (len(PASSAGES), 384) and o_docs.dtype == np.float32
    assert np.allclose(np.linalg.norm(o_docs, axis=1), 1.0, atol=1e-3)
    assert np.min(np.sum(t_docs * o_docs, axis=1)) > 0.97  # int8 weights: close, not identical
    t_q = np.stack([torch_model.encode_query(q) for q in QUERIES])
    o_q = np.stack([onnx_model.encode_query(q) for q in QUERIES])
    t_top, o_top = _top(t_docs, t_q), _top(o_docs, o_q)
    for i, (t, o) in enumerate(zip(t_top, o_top)):
        assert t[0] == o[0] == i, (QUERIES[i], t, o)  # every query finds its own passage first, on both
        assert len(set(t) & set(o)) >= 2, (QUERIES[i], t, o)


@pytest.mark.slow
def test_an_int8_export_that_disagrees_falls_back_to_fp32_which_matches_torch(hearth_home, monkeypatch):
    torch_model = embedders.get_embedder(backend="torch")
    monkeypatch.setitem(onnx_embed.MIN_COSINE, True, 1.01)  # no int8 graph can pass: as for all-mpnet-base-v2
    fp32 = embedders.Embedder(embedders.BUILTIN, embedders.builtin_path(), backend="onnx")
    assert fp32.backend == "onnx-fp32", fp32.backend_note
    assert "disagrees with torch" in fp32.backend_note
    # The refusal is remembered: the next start does not export the int8 graph again.
    cache = hearth_home / "models" / "embedding" / ".onnx-cache"
    assert len(list(cache.glob("*/failed.json"))) == 1 and len(list(cache.glob("*/model.onnx"))) == 1
    with pytest.raises(onnx_embed.OnnxUnavailable, match="disagrees"):
        onnx_embed.load(fp32.model, embedders.builtin_path(), cache, quantize=True)
    long_text = " ".join(PASSAGES * 4)  # beyond 256 tokens: truncated the same way as torch
    texts = PASSAGES + [long_text, "x"]
    t, o = torch_model.encode(texts), fp32.encode(texts, batch_size=4)
    assert np.min(np.sum(t * o, axis=1)) > 0.999
    # Length-sorted batching and padding do not change a text's vector.
    alone = np.stack([fp32.encode([text])[0] for text in texts])
    assert np.allclose(alone, o, atol=1e-4)


@pytest.mark.slow
def test_unsupported_layout_stays_on_torch(tmp_path):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling

    base = embedders.get_embedder(backend="torch").model
    model = SentenceTransformer(modules=[base[0], Pooling(384, pooling_mode="max")], device="cpu")
    with pytest.raises(onnx_embed.OnnxUnavailable, match="pooling"):
        onnx_embed.load(model, embedders.builtin_path(), tmp_path / "cache")
    assert not list((tmp_path / "cache").glob("*/model.onnx"))
    assert list((tmp_path / "cache").glob("*/failed.json"))


def test_cache_key_changes_with_the_model_files_and_settings(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    first = onnx_embed.cache_key(tmp_path, quantize=True)
    assert first == onnx_embed.cache_key(tmp_path, quantize=True)
    assert first != onnx_embed.cache_key(tmp_path, quantize=False)
    (tmp_path / "model.safetensors").write_bytes(b"weights")
    assert first != onnx_embed.cache_key(tmp_path, quantize=True)
