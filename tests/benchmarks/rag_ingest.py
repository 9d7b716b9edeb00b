"""Indexing speed and search latency of Hearth's Documents engine, against raw sentence-transformers / Chroma.

Corpus: the seven R manuals from the Debian package `r-doc-pdf` (R-intro, R-FAQ, R-data, R-admin, R-lang, R-exts,
R-ints: 677 PDF pages; --files 5 for the first five, 360 pages); installed with apt-get when missing and running as
root.

1. Ingest: Hearth indexes the corpus (parse + chunk + embed + store, pipelined; its default embedder backend, ONNX
   Runtime int8 unless HEARTH_EMBED_BACKEND says otherwise). Then, in the same process, raw
   `SentenceTransformer.encode` (torch) runs on the very chunk texts Hearth produced. raw_pages_per_s = pages ÷ that
   encode time alone (parsing and storing counted as free for the raw path); ingest_ratio = pages_per_s ÷
   raw_pages_per_s (the issue's goal: ≥ 2.0).
2. Search: a 10k-chunk collection is built from the corpus's real chunks and vectors, replicated with small
   vector perturbations (embedding 10k distinct chunks takes too long on a laptop CPU to repeat), then the 41
   quality-evaluation questions are searched (hybrid, k=10): p50/p95 in ms, beside raw Chroma `query` alone.
   With an installed reranker, also hybrid + rerank.

    python tests/benchmarks/rag_ingest.py [--runs 1]

Last line: one JSON object with pages_per_s, raw_pages_per_s, ingest_ratio, chunks_per_s, peak_rss_mb, backend,
search_p50_ms, search_p95_ms, rerank_p50_ms.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import rag_quality  # noqa: E402  (same folder: corpus install and questions)

FILES = ["R-intro.pdf", "R-FAQ.pdf", "R-data.pdf", "R-admin.pdf", "R-lang.pdf", "R-exts.pdf", "R-ints.pdf"]


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    index = min(len(values) - 1, max(0, int(round(q * (len(values) - 1)))))
    return values[index]


def ingest_once(run: int, paths: list[Path]) -> dict:
    from app.core.documents.embedder import BUILTIN, get_embedder
    from app.core.documents.indexer import IndexRequest, _embed_text, index_collection
    from app.core.documents.store import Store
    from app.core.jobs import JobState

    model = get_embedder(BUILTIN)  # loaded (and its ONNX export cached) before timing, for both paths
    name = f"ingest-{run}"
    t0 = time.perf_counter()
    report = index_collection(IndexRequest(name, [str(p) for p in paths]), JobState())
    hearth_s = time.perf_counter() - t0
    store = Store()
    info = store.get(name)
    rows = store.db.execute("SELECT title, heading, text FROM chunks WHERE collection_id = ? ORDER BY path, idx",
                            (info.id,)).fetchall()

    class _C:  # what _embed_text reads
        def __init__(self, title, heading, text):
            self.title, self.heading, self.text = title or "", heading or "", text

    texts = [_embed_text(_C(r["title"], r["heading"], r["text"])) for r in rows]
    t0 = time.perf_counter()
    model.model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True,
                       show_progress_bar=False)
    raw_s = time.perf_counter() - t0
    return {"pages": report.pages, "chunks": report.chunks, "hearth_s": hearth_s, "raw_encode_s": raw_s,
            "collection": name, "backend": model.backend}


def build_10k(source: str, target: int = 10_000) -> str:
    import numpy as np

    from app.core.documents.chunker import Chunk
    from app.core.documents.store import Store

    store = Store()
    src = store.get(source)
    got = store.vectors(src).get(include=["embeddings"])
    vectors = dict(zip(got["ids"], np.asarray(got["embeddings"], dtype="float32")))
    rows = store.db.execute("SELECT * FROM chunks WHERE collection_id = ? ORDER BY path, idx", (src.id,)).fetchall()
    if store.find("latency-10k") is not None:
        store.remove("latency-10k")
    info = store.create("latency-10k", src.model, src.chunk_tokens, src.chunk_overlap)
    rng = np.random.default_rng(0)
    copy, made = 0, 0
    while made < target:
        by_file: dict[str, list] = {}
        for r in rows[: target - made]:
            by_file.setdefault(r["path"], []).append(r)
        for path, items in by_file.items():
            chunks = [Chunk(r["text"], r["page_start"], r["page_end"], r["char_start"], r["char_end"],
                            r["heading"] or "") for r in items]
            for chunk, r in zip(chunks, items):  # stores before schema 2 have no titles
                chunk.title = r["title"] if "title" in r.keys() else ""
            vecs = np.stack([vectors[r["id"]] for r in items])
            if copy:
                vecs = vecs + rng.normal(0, 0.02, vecs.shape).astype("float32")
                vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
            fake = f"/copies/{copy}{path}"
            digest = f"{copy:08d}{abs(hash(path)):024d}"
            store.write_chunks(info, fake, digest, 0, chunks, vecs)
            store.set_file(info, fake, size=0, mtime=0, hash=digest, state="indexed", chunks=len(chunks))
            made += len(chunks)
        copy += 1
    return info.name


def latency(name: str, reranker: str) -> dict:
    from app.core.documents.embedder import get_embedder
    from app.core.documents.retriever import Retriever, SearchOptions

    retriever = Retriever()
    info = retriever.store.get(name)
    count = retriever.store.chunk_count(info)
    questions = [q for q, _, _ in rag_quality.QUESTIONS]
    model = get_embedder(info.model)
    vectors = retriever.store.vectors(info)

    def timed(fn) -> list[float]:
        fn(questions[0])  # warm-up
        out = []
        for q in questions:
            t = time.perf_counter()
            fn(q)
            out.append(1000 * (time.perf_counter() - t))
        return out

    per_mode = {mode: timed(lambda q, m=mode: retriever.search(info, q, SearchOptions(k=10, mode=m)))
                for mode in ("hybrid", "dense", "bm25")}
    hybrid = per_mode["hybrid"]
    raw = timed(lambda q: vectors.query(query_embeddings=[model.encode_query(q)], n_results=10))
    out = {"chunks": count, "search_p50_ms": statistics.median(hybrid), "search_p95_ms": percentile(hybrid, 0.95),
           "raw_chroma_p50_ms": statistics.median(raw), "raw_chroma_p95_ms": percentile(raw, 0.95),
           "rerank_p50_ms": None,
           "query_p50_ms": {mode: round(statistics.median(t), 1) for mode, t in per_mode.items()},
           "query_p95_ms": {mode: round(percentile(t, 0.95), 1) for mode, t in per_mode.items()}}
    if reranker:
        rr = timed(lambda q: retriever.search(info, q, SearchOptions(k=10, reranker=reranker, rerank_top=20)))
        out["rerank_p50_ms"] = statistics.median(rr)
        out["rerank_p95_ms"] = percentile(rr, 0.95)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1, help="ingest runs (median reported)")
    parser.add_argument("--home", help="HEARTH_HOME (default: a temporary folder)")
    parser.add_argument("--files", type=int, default=len(FILES), help="use the first N manuals (default all 7)")
    parser.add_argument("--no-search", action="store_true", help="skip the 10k-chunk search latency part")
    parser.add_argument("--latency-from", metavar="COLLECTION",
                        help="skip ingest: build the 10k-chunk collection from this collection of --home")
    args = parser.parse_args()
    os.environ["HEARTH_HOME"] = args.home or tempfile.mkdtemp(prefix="hearth-ingest-")
    rag_quality.FILES = FILES[:args.files]
    paths = rag_quality.ensure_corpus()
    from app.core.documents.embedder import available_rerankers

    rerankers = [k for k, _ in available_rerankers()]
    if args.latency_from:
        lat = latency(build_10k(args.latency_from), rerankers[0] if rerankers else "")
        print(f"search on {lat['chunks']} chunks, p50 ms per mode: {lat['query_p50_ms']} (p95 "
              f"{lat['query_p95_ms']}); raw Chroma query (+ query embedding) p50 {lat['raw_chroma_p50_ms']:.1f} ms")
        print(json.dumps({"chunks": lat["chunks"], "query_p50_ms": lat["query_p50_ms"],
                          "query_p95_ms": lat["query_p95_ms"], "raw_chroma_p50_ms": round(lat["raw_chroma_p50_ms"], 1)}))
        return
    runs = [ingest_once(i, paths) for i in range(args.runs)]
    for r in runs:
        print(f"ingest: {r['pages']} pages, {r['chunks']} chunks — Hearth {r['hearth_s']:.1f} s "
              f"({r['pages'] / r['hearth_s']:.2f} pages/s, {r['chunks'] / r['hearth_s']:.1f} chunks/s); raw encode of "
              f"the same chunks {r['raw_encode_s']:.1f} s ({r['chunks'] / r['raw_encode_s']:.1f} chunks/s); "
              f"ratio {r['raw_encode_s'] / r['hearth_s']:.3f}")
    pages_s = statistics.median(r["pages"] / r["hearth_s"] for r in runs)
    raw_pages_s = statistics.median(r["pages"] / r["raw_encode_s"] for r in runs)
    chunks_s = statistics.median(r["chunks"] / r["hearth_s"] for r in runs)
    ratio = statistics.median(r["raw_encode_s"] / r["hearth_s"] for r in runs)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    print(f"Hearth ({runs[0]['backend']}) {pages_s:.2f} pages/s vs raw encode alone {raw_pages_s:.2f} pages/s: "
          f"ingest ratio {ratio:.2f}; peak RSS {peak_mb:.0f} MB")
    figures = {"pages_per_s": round(pages_s, 3), "raw_pages_per_s": round(raw_pages_s, 3),
               "ingest_ratio": round(ratio, 3), "chunks_per_s": round(chunks_s, 2), "peak_rss_mb": round(peak_mb),
               "backend": runs[0]["backend"], "pages": runs[0]["pages"], "chunks": runs[0]["chunks"]}
    if args.no_search:
        print(json.dumps(figures))
        return
    lat = latency(build_10k(runs[0]["collection"]), rerankers[0] if rerankers else "")
    print(f"search on {lat['chunks']} chunks, p50 ms per mode: {lat['query_p50_ms']}")
    print(f"search on {lat['chunks']} chunks (hybrid, k=10): p50 {lat['search_p50_ms']:.1f} ms, "
          f"p95 {lat['search_p95_ms']:.1f} ms; raw Chroma query (+ query embedding) p50 "
          f"{lat['raw_chroma_p50_ms']:.1f} ms, p95 {lat['raw_chroma_p95_ms']:.1f} ms")
    if lat["rerank_p50_ms"] is None:
        print("with reranker: no reranker installed (put a cross-encoder in models/reranker to measure it)")
    else:
        print(f"with reranker ({rerankers[0]}, top 20): p50 {lat['rerank_p50_ms']:.1f} ms")
    print(json.dumps({**figures, "query_p50_ms": lat["query_p50_ms"], "search_p50_ms": round(lat["search_p50_ms"], 1),
                      "search_p95_ms": round(lat["search_p95_ms"], 1),
                      "rerank_p50_ms": None if lat["rerank_p50_ms"] is None else round(lat["rerank_p50_ms"], 1)}))


if __name__ == "__main__":
    main()
