"""Retrieval quality of Hearth's Documents search, at page level, on a real public corpus.

Corpus: the R manuals shipped as PDFs by the Debian package `r-doc-pdf` (R-intro.pdf 113 pages, R-FAQ.pdf 52,
R-data.pdf 41; /usr/share/doc/r-doc-pdf/manual/). The script installs the package with apt-get when it is missing
and it runs as root. 41 questions, written as a user would ask them (paraphrased, not copied from the text), each
with its gold file and page(s), checked by hand against pypdf's text of those pages.

For each retrieval mode (dense only, BM25 only, hybrid RRF, hybrid + cross-encoder re-rank when a reranker is
installed) it reports recall@1, recall@5 and MRR@10 over the ranked list of distinct (file, page) pairs. As the raw
library baseline it also runs plain sentence-transformers over whole pages (one vector per page, no chunking).

    python tests/benchmarks/rag_quality.py [--chunk-tokens 200 --chunk-tokens 128 ...] [--overlap 40]

Last line: one JSON object with dense_recall5, bm25_recall5, hybrid_recall5, rerank_recall5, hybrid_mrr10, questions.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

MANUALS = Path("/usr/share/doc/r-doc-pdf/manual")
FILES = ["R-intro.pdf", "R-FAQ.pdf", "R-data.pdf"]

# (question, file, gold pages). Pages are 1-based PDF page indices (not the printed page numbers).
QUESTIONS = [
    ("How do I end my R session and leave the program?", "R-intro.pdf", [9, 10]),
    ("Is there a built-in way to read documentation about a function, like Unix man pages?", "R-intro.pdf", [10]),
    ("How do I store a handful of numbers together in one named variable?", "R-intro.pdf", [14]),
    ("What happens in arithmetic when one vector is shorter than the other?", "R-intro.pdf", [15]),
    ("How can I produce a regular series of numbers counting down or with a fixed step?", "R-intro.pdf", [16]),
    ("How can I tell which entries of my data are not available?", "R-intro.pdf", [17]),
    ("How do I glue text pieces together to build labels like X1, Y2 without spaces?", "R-intro.pdf", [18]),
    ("How can I compute a summary such as the mean separately for each group of a categorical variable?",
     "R-intro.pdf", [23, 24]),
    ("How do I get every pairwise product of the elements of two vectors?", "R-intro.pdf", [29]),
    ("Which operator multiplies two matrices together?", "R-intro.pdf", [30]),
    ("Given a coefficient matrix and a right-hand side, how do I find the unknowns of the equation system?",
     "R-intro.pdf", [31]),
    ("How can I obtain the eigenvalues of a symmetric matrix?", "R-intro.pdf", [31, 32]),
    ("How can I refer to the columns of a data frame directly by name, without the dollar notation?",
     "R-intro.pdf", [37]),
    ("How do I load a whole table of data from a text file into a data frame?", "R-intro.pdf", [39, 40]),
    ("Can I fix a few values of a dataset in a spreadsheet-style window?", "R-intro.pdf", [41]),
    ("How can I show a quick stem and leaf picture of my numbers?", "R-intro.pdf", [43]),
    ("How do I check whether two samples have equal means using Welch's method?", "R-intro.pdf", [46]),
    ("What kinds of loops does the language offer for repeating statements?", "R-intro.pdf", [49, 50]),
    ("How do I give a function's parameters default values and pass them in any order by name?",
     "R-intro.pdf", [52]),
    ("How can my function hand on extra unnamed settings to another function such as par()?", "R-intro.pdf", [53]),
    ("How are free variables inside a function looked up? What are the scoping rules?", "R-intro.pdf", [55, 56]),
    ("Where can I put commands that should run automatically each time R starts?", "R-intro.pdf", [58]),
    ("How do I find out which methods are available for data frame objects?", "R-intro.pdf", [59]),
    ("How do I fit an ordinary multiple regression model to my data?", "R-intro.pdf", [64]),
    ("How do I fit a generalized linear model and say which family the response follows?", "R-intro.pdf", [68]),
    ("Which functions minimise an objective for nonlinear curve fitting?", "R-intro.pdf", [70]),
    ("How can I click on a plot with the mouse to read off positions?", "R-intro.pdf", [79]),
    ("How do I see the installed add-on packages and load one of them?", "R-intro.pdf", [89]),
    ("How can I count how often each combination of two factors occurs?", "R-intro.pdf", [33]),
    ("How do I get upper percentage points of distributions like F from R's statistical tables?",
     "R-intro.pdf", [42, 43]),
    ("Where does the name of the R language come from?", "R-FAQ.pdf", [14]),
    ("How should I reference R in a scientific publication?", "R-FAQ.pdf", [12]),
    ("Why are two decimal numbers I computed not exactly equal?", "R-FAQ.pdf", [41]),
    ("I called xyplot but no graph shows up. Why?", "R-FAQ.pdf", [39]),
    ("I have the name of a variable in a character string; how do I get at its value?", "R-FAQ.pdf", [38]),
    ("How do I correctly make one element of a list NULL?", "R-FAQ.pdf", [32]),
    ("How can I write the result of each loop iteration into its own file?", "R-FAQ.pdf", [42]),
    ("How do I read a file in which every field sits at fixed character positions?", "R-data.pdf", [15]),
    ("How do I read and write raw binary data through connections?", "R-data.pdf", [33]),
    ("What are my options for importing a workbook from Excel?", "R-data.pdf", [36]),
    ("Why keep data in a database management system instead of in R's memory?", "R-data.pdf", [21]),
]
OFF_TOPIC = ["Who painted the ceiling of the Sistine Chapel?", "How long should I boil an egg for a soft yolk?",
             "What is the capital city of Australia?", "How do I change a flat bicycle tyre?",
             "When did the Roman empire fall?"]


def ensure_corpus() -> list[Path]:
    paths = [MANUALS / name for name in FILES]
    if all(p.exists() for p in paths):
        return paths
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("installing the corpus: apt-get install r-doc-pdf", file=sys.stderr)
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", "r-doc-pdf"], check=False,
                       env=env)
    if not all(p.exists() for p in paths):
        sys.exit("corpus missing: install the Debian package r-doc-pdf (sudo apt-get install r-doc-pdf)")
    return paths


def page_ranking(hits, k=10) -> list[tuple[str, int]]:
    seen: list[tuple[str, int]] = []
    for hit in hits:
        key = (Path(hit.file).name, hit.page)
        if key not in seen:
            seen.append(key)
        if len(seen) == k:
            break
    return seen


def score(rankings: list[list[tuple[str, int]]]) -> dict:
    r1 = r5 = mrr = 0.0
    for ranking, (_, gold_file, gold_pages) in zip(rankings, QUESTIONS):
        rank = next((i + 1 for i, (f, p) in enumerate(ranking) if f == gold_file and p in gold_pages), None)
        r1 += rank == 1
        r5 += rank is not None and rank <= 5
        mrr += 1.0 / rank if rank is not None and rank <= 10 else 0.0
    n = len(rankings)
    return {"recall1": r1 / n, "recall5": r5 / n, "mrr10": mrr / n}


def evaluate(chunk_tokens: int, overlap: int, embedder_key: str, reranker: str) -> dict:
    from app.core.chat.citations import relevant
    from app.core.documents.indexer import IndexRequest, index_collection
    from app.core.documents.retriever import Retriever, SearchOptions
    from app.core.jobs import JobState

    name = f"r-{embedder_key}-{chunk_tokens}-{overlap}"
    t0 = time.monotonic()
    report = index_collection(IndexRequest(name, [str(p) for p in ensure_corpus()], model=embedder_key,
                                           chunk_tokens=chunk_tokens, chunk_overlap=overlap), JobState())
    index_s = time.monotonic() - t0
    retriever = Retriever()
    info = retriever.store.get(name)
    out = {"chunk_tokens": chunk_tokens, "overlap": overlap, "embedder": embedder_key, "chunks": report.chunks,
           "pages": report.pages, "index_s": round(index_s, 1)}
    modes = [("dense", SearchOptions(k=30, mode="dense")), ("bm25", SearchOptions(k=30, mode="bm25")),
             ("hybrid", SearchOptions(k=30, mode="hybrid"))]
    if reranker:
        modes.append(("rerank", SearchOptions(k=30, mode="hybrid", reranker=reranker, rerank_top=30)))
    for label, options in modes:
        t = time.monotonic()
        results = [retriever.search(info, q, options) for q, _, _ in QUESTIONS]
        out[label] = score([page_ranking(r) for r in results])
        out[label]["ms_per_query"] = round(1000 * (time.monotonic() - t) / len(QUESTIONS), 1)
        if label == "hybrid":
            answerable = sum(bool(relevant(r[:5])) for r in results)
            off = [retriever.search(info, q, options) for q in OFF_TOPIC]
            out["relevance_gate"] = {"on_topic_with_sources": answerable, "on_topic": len(QUESTIONS),
                                     "off_topic_nothing_found": sum(not relevant(r[:5]) for r in off),
                                     "off_topic": len(OFF_TOPIC)}
    return out


def raw_page_baseline(embedder_key: str) -> dict:
    """Raw sentence-transformers: one vector per PDF page (truncated by the model), cosine ranking."""
    import numpy as np
    import pypdfium2 as pdfium

    from app.core.documents.embedder import get_embedder

    model = get_embedder(embedder_key)
    keys, texts = [], []
    for path in ensure_corpus():
        with pdfium.PdfDocument(str(path)) as document:
            for i, page in enumerate(document):
                text = page.get_textpage().get_text_bounded()
                if text.strip():
                    keys.append((path.name, i + 1))
                    texts.append(text)
    vectors = model.model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
    rankings = []
    for q, _, _ in QUESTIONS:
        qv = model.encode_query(q)
        order = np.argsort(-(vectors @ qv))[:10]
        rankings.append([keys[i] for i in order])
    return score(rankings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunk-tokens", type=int, action="append", help="chunk sizes to compare (default 128)")
    parser.add_argument("--overlap", type=int, default=40)
    parser.add_argument("--home", help="HEARTH_HOME to use (default: a temporary folder; models are read from it)")
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()
    home = args.home or tempfile.mkdtemp(prefix="hearth-ragq-")
    os.environ["HEARTH_HOME"] = home
    from app.core.documents.embedder import BUILTIN, available_embedders, available_rerankers

    ensure_corpus()
    embedders = [key for key, _ in available_embedders()]
    rerankers = [key for key, _ in available_rerankers()]
    reranker = rerankers[0] if rerankers else ""
    print(f"corpus: {', '.join(FILES)} from Debian r-doc-pdf; {len(QUESTIONS)} questions; embedders: "
          f"{', '.join(embedders)}; reranker: {reranker or 'none installed'}", file=sys.stderr)
    results = []
    for size in args.chunk_tokens or [128]:
        for key in embedders:
            result = evaluate(size, args.overlap, key, reranker)
            results.append(result)
            line = (f"{key:<22} chunk {size:>3}/{args.overlap:<3} {result['chunks']:>5} chunks "
                    f"(indexed {result['pages']} pages in {result['index_s']} s)")
            print(line)
            for mode in ("dense", "bm25", "hybrid", "rerank"):
                if mode in result:
                    m = result[mode]
                    print(f"    {mode:<7} recall@1 {m['recall1']:.3f}  recall@5 {m['recall5']:.3f}  "
                          f"MRR@10 {m['mrr10']:.3f}  ({m['ms_per_query']} ms/query)")
            gate = result["relevance_gate"]
            print(f"    relevance gate: {gate['on_topic_with_sources']}/{gate['on_topic']} questions get sources, "
                  f"{gate['off_topic_nothing_found']}/{gate['off_topic']} off-topic questions get 'nothing found'")
    if not args.no_baseline:
        raw = raw_page_baseline(BUILTIN)
        print(f"raw sentence-transformers, one vector per page ({BUILTIN}): recall@1 {raw['recall1']:.3f}  "
              f"recall@5 {raw['recall5']:.3f}  MRR@10 {raw['mrr10']:.3f}")
    best = max((r for r in results if r["embedder"] == BUILTIN), key=lambda r: r["hybrid"]["mrr10"])
    print(f"default chosen from this run: chunk {best['chunk_tokens']} tokens, overlap {best['overlap']}, mode hybrid")
    print(json.dumps({
        "dense_recall5": round(best["dense"]["recall5"], 3), "bm25_recall5": round(best["bm25"]["recall5"], 3),
        "hybrid_recall5": round(best["hybrid"]["recall5"], 3),
        "rerank_recall5": round(best["rerank"]["recall5"], 3) if "rerank" in best else None,
        "hybrid_mrr10": round(best["hybrid"]["mrr10"], 3), "questions": len(QUESTIONS),
        "chunk_tokens": best["chunk_tokens"], "embedder": best["embedder"]}))


if __name__ == "__main__":
    main()
