"""Retrieval quality of Hearth's Documents search, at page level, on real public corpora.

1. The dev set (the honest yardstick): 50 questions written independently of Hearth, with gold pages, over Debian
   documentation (gnuplot, Bash, Debian Reference, Debian FAQ, Git guides; 768 PDF pages + 23 HTML/text files):
   ../shared/eval/devset (or --devset). Its corpus is fetched with the dev set's own fetch.sh (apt-get download,
   nothing installed) into --devset-corpus when missing. Scored by the dev set's score.py (recall@1/@5/@10,
   MRR@10, nDCG@10) on the top 10 chunks as returned (a page hit twice takes two ranks), and with --dedup.
   Floors from the dev set's README are printed beside it: plain BM25 over whole pages (recall@5 0.62) and a naive
   script (1000-character chunks, 200 overlap, the same MiniLM through raw sentence-transformers, cosine; 0.88),
   which this script also re-runs live (--no-floors skips it).
2. "Tuned-on": the 41 questions over the R manuals (Debian package `r-doc-pdf`: R-intro.pdf 113 pages, R-FAQ.pdf 52,
   R-data.pdf 41; installed with apt-get when missing and running as root). They were written alongside the code
   and used to choose the chunk size, so they show how well Hearth fits them, not how it serves new questions.

Everything is indexed by Hearth's real indexer into a temporary HEARTH_HOME, with the default settings unless told
otherwise. Modes: dense only, BM25 only, hybrid (RRF, the default), hybrid + cross-encoder re-rank when a reranker
is installed (--home with one in models/reranker).

    python tests/benchmarks/rag_quality.py [--devset-corpus DIR] [--embedder KEY|PATH ...] [--backend onnx ...]
                                           [--chunk-tokens 128 --overlap 40] [--no-tuned] [--no-floors]

Last line: one JSON object: devset_recall5, devset_mrr10, devset_ndcg10 (default mode, first embedder/backend),
devset (every embedder/backend/mode), tuned_on (same for the 41 R-manual questions), floors.
"""

from __future__ import annotations

import argparse
import html.parser
import importlib.util
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
DEVSET_CANDIDATES = [ROOT.parent / "shared" / "eval" / "devset", ROOT.parents[1] / "shared" / "eval" / "devset"]
DEFAULT_MODE = "hybrid"
# The dev set README's floors (its "all" rows): plain BM25 over whole pages, and the naive dense script.
README_FLOORS = {"bm25_pages": {"recall1": 0.32, "recall5": 0.62, "recall10": 0.74, "mrr10": 0.45, "ndcg10": 0.44},
                 "naive_dense_1000": {"recall1": 0.64, "recall5": 0.88, "recall10": 0.92, "mrr10": 0.74,
                                      "ndcg10": 0.67}}
PARAPHRASED = set("d01 d02 d05 d07 d08 d09 d12 d13 d14 d15 d17 d18 d20 d24 d26 d27 d28 d30 d32 d33 d34 d36 d37 d39 "
                  "d40 d42 d43 d44 d46 d47 d48".split())
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


def score(rankings: list[list[tuple[str, int]]]) -> dict:
    r1 = r5 = mrr = 0.0
    for ranking, (_, gold_file, gold_pages) in zip(rankings, QUESTIONS):
        rank = next((i + 1 for i, (f, p) in enumerate(ranking) if f == gold_file and p in gold_pages), None)
        r1 += rank == 1
        r5 += rank is not None and rank <= 5
        mrr += 1.0 / rank if rank is not None and rank <= 10 else 0.0
    n = len(rankings)
    return {"recall1": r1 / n, "recall5": r5 / n, "mrr10": mrr / n}


# ---- dev set ---------------------------------------------------------------------------------------------------
def devset_dir(given: str | None) -> Path:
    for folder in ([Path(given)] if given else DEVSET_CANDIDATES):
        if (folder / "questions.jsonl").exists() and (folder / "score.py").exists():
            return folder.resolve()
    sys.exit("dev set not found: pass --devset DIR (the folder with questions.jsonl, score.py and fetch.sh)")


def load_scorer(devset: Path):
    """The dev set's own score.py, imported as a module (its metrics are the reference, not re-implemented)."""
    spec = importlib.util.spec_from_file_location("devset_score", devset / "score.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def ensure_devset_corpus(devset: Path, corpus: Path) -> Path:
    sums = [line.split() for line in (devset / "README.md").read_text().splitlines()
            if len(line.split()) == 2 and len(line.split()[0]) == 64]
    if corpus.is_dir() and all((corpus / name).exists() for _, name in sums):
        return corpus
    print(f"fetching the dev set corpus into {corpus} (fetch.sh: apt-get download + dpkg-deb -x)", file=sys.stderr)
    if subprocess.run(["bash", str(devset / "fetch.sh"), str(corpus)]).returncode != 0:
        sys.exit(f"could not fetch the dev set corpus (run `apt-get update` first?); or pass --devset-corpus DIR")
    return corpus


def devset_files(corpus: Path) -> list[Path]:
    return sorted(p for p in corpus.iterdir() if p.suffix in (".pdf", ".html", ".txt"))


def to_results(questions: list[dict], hit_lists) -> list[dict]:
    return [{"id": q["id"], "hits": [{"file": Path(h[0]).name, "page": h[1]} for h in hits]}
            for q, hits in zip(questions, hit_lists)]


def devset_metrics(scorer, questions: list[dict], hit_lists) -> dict:
    """score.py's summary (top 10 as ranked, then with --dedup), plus recall@5 of the paraphrased questions."""
    results = to_results(questions, hit_lists)
    summary, per_q = scorer.score(questions, results)
    dedup, _ = scorer.score(questions, results, dedup=True)
    para = [r for r in per_q if r["id"] in PARAPHRASED]
    return {"recall1": summary["recall@1"], "recall5": summary["recall@5"], "recall10": summary["recall@10"],
            "mrr10": summary["mrr@10"], "ndcg10": summary["ndcg@10"], "recall5_dedup": dedup["recall@5"],
            "mrr10_dedup": dedup["mrr@10"], "ndcg10_dedup": dedup["ndcg@10"],
            "paraphrased_recall5": sum(r["recall@5"] for r in para) / max(1, len(para))}


# ---- Hearth, through its real indexer and retriever ---------------------------------------------------------------
def index(name: str, files: list[Path], embedder_key: str, chunk_tokens: int | None, overlap: int | None):
    from app.core.documents.indexer import IndexRequest, index_collection
    from app.core.jobs import JobState

    request = IndexRequest(name, [str(p) for p in files], model=embedder_key)
    if chunk_tokens:
        request.chunk_tokens = chunk_tokens
    if overlap is not None:
        request.chunk_overlap = overlap
    t0 = time.monotonic()
    report = index_collection(request, JobState())
    seconds = time.monotonic() - t0
    return report, seconds


def run_modes(name: str, questions: list[str], reranker: str):
    """{mode: (list of [(file, page), ...] top-10 chunk hits per question, ms per query)}."""
    from app.core.documents.retriever import Retriever, SearchOptions

    retriever = Retriever()
    info = retriever.store.get(name)
    modes = [("dense", SearchOptions(k=10, mode="dense")), ("bm25", SearchOptions(k=10, mode="bm25")),
             ("hybrid", SearchOptions(k=10, mode="hybrid"))]
    if hasattr(SearchOptions, "fusion"):  # the fusions compared on the same index (the default is one of them)
        modes += [("hybrid-rrf-2:1", SearchOptions(k=10, mode="hybrid", fusion="rrf", dense_weight=2.0)),
                  ("hybrid-rrf-1:1", SearchOptions(k=10, mode="hybrid", fusion="rrf", dense_weight=1.0)),
                  ("hybrid-convex-0.8", SearchOptions(k=10, mode="hybrid", fusion="convex", dense_weight=1.0)),
                  ("hybrid-no-page-collapse", SearchOptions(k=10, mode="hybrid", collapse_pages=False))]
    if hasattr(SearchOptions, "bm25_fields"):  # and without the field weights (title/heading weighted as the body)
        modes += [("hybrid-bm25-fields-1:1:1", SearchOptions(k=10, mode="hybrid", bm25_fields=(1.0, 1.0, 1.0)))]
    if reranker:
        modes.append(("rerank", SearchOptions(k=10, mode="hybrid", reranker=reranker, rerank_top=30)))
    out = {}
    for label, options in modes:
        retriever.search(info, questions[0], options)  # warm-up (model load)
        t = time.monotonic()
        hits = [[(h.file, h.page) for h in retriever.search(info, q, options)] for q in questions]
        out[label] = (hits, 1000 * (time.monotonic() - t) / len(questions))
    return out


# ---- floors: the naive script, re-run live ------------------------------------------------------------------------
class _Text(html.parser.HTMLParser):
    """Visible text of an HTML file (script and style skipped), as the dev set's bm25_baseline.py reads it."""

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        self.skip += tag in ("script", "style")

    def handle_endtag(self, tag):
        self.skip -= tag in ("script", "style") and self.skip > 0

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def naive_units(files: list[Path]) -> list[tuple[str, int | None, str]]:
    """(file, page, text) per PDF page (PDFium text) or whole HTML (tags stripped) / text file: what a short script
    would read."""
    import pypdfium2 as pdfium

    units = []
    for path in files:
        if path.suffix == ".pdf":
            document = pdfium.PdfDocument(str(path))
            for i in range(len(document)):
                units.append((path.name, i + 1, document[i].get_textpage().get_text_bounded()))
            document.close()
        elif path.suffix == ".html":
            parser = _Text()
            parser.feed(path.read_text(encoding="utf-8", errors="replace"))
            units.append((path.name, None, " ".join(parser.parts)))
        else:
            units.append((path.name, None, path.read_text(encoding="utf-8", errors="replace")))
    return units


def naive_dense(files: list[Path], questions: list[str], size: int = 1000, overlap: int = 200):
    """The README's naive script: 1000-character chunks with 200 overlap, all-MiniLM-L6-v2 through raw
    sentence-transformers (torch), cosine, top 10. Returns (hit lists, chunk count, encode seconds)."""
    import numpy as np
    from sentence_transformers import SentenceTransformer

    from app.core.documents.embedder import builtin_path

    keys, texts = [], []
    for name, page, text in naive_units(files):
        text = " ".join(text.split())
        for start in range(0, max(1, len(text) - overlap), size - overlap):
            piece = text[start:start + size]
            if piece.strip():
                keys.append((name, page))
                texts.append(piece)
    model = SentenceTransformer(str(builtin_path()), device="cpu")
    t = time.monotonic()
    vectors = model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
    seconds = time.monotonic() - t
    queries = model.encode(questions, normalize_embeddings=True, convert_to_numpy=True)
    hits = [[keys[i] for i in np.argsort(-(vectors @ q))[:10]] for q in queries]
    return hits, len(texts), seconds


# ---- main ---------------------------------------------------------------------------------------------------------
def show(label: str, m: dict, extra: str = "") -> None:
    print(f"    {label:<26} recall@1 {m['recall1']:.3f}  recall@5 {m['recall5']:.3f}  MRR@10 {m['mrr10']:.3f}"
          + (f"  nDCG@10 {m['ndcg10']:.3f}" if "ndcg10" in m else "") + extra)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devset", help="dev set folder (questions.jsonl, score.py, fetch.sh)")
    parser.add_argument("--devset-corpus", default=os.environ.get("HEARTH_DEVSET_CORPUS", "~/devset-corpus"),
                        help="where the dev set corpus is (fetched there when missing)")
    parser.add_argument("--embedder", action="append", help="embedder keys or model folders (default: built-in)")
    parser.add_argument("--backend", action="append", choices=["onnx", "onnx-fp32", "torch"],
                        help="embedder backends to compare (default: Hearth's default)")
    parser.add_argument("--chunk-tokens", type=int, help="chunk size (default: the indexer's)")
    parser.add_argument("--overlap", type=int, help="chunk overlap (default: the indexer's)")
    parser.add_argument("--home", help="HEARTH_HOME to use (default: a temporary folder; models are read from it)")
    parser.add_argument("--no-tuned", action="store_true", help="skip the 41 tuned-on R-manual questions")
    parser.add_argument("--no-floors", action="store_true", help="skip the live naive-script floor")
    parser.add_argument("--results", help="folder to write each run's results.jsonl (for score.py --per-question)")
    args = parser.parse_args()
    os.environ["HEARTH_HOME"] = args.home or tempfile.mkdtemp(prefix="hearth-ragq-")
    from app.core.documents import embedder as embedders

    devset = devset_dir(args.devset)
    scorer = load_scorer(devset)
    questions = scorer.load_jsonl(devset / "questions.jsonl")
    files = devset_files(ensure_devset_corpus(devset, Path(args.devset_corpus).expanduser()))
    keys = args.embedder or [embedders.BUILTIN]
    backends = args.backend or [embedders.default_backend()]
    rerankers = [key for key, _ in embedders.available_rerankers()]
    reranker = rerankers[0] if rerankers else ""
    print(f"dev set: {len(questions)} questions over {len(files)} files ({devset}); embedders {', '.join(keys)}; "
          f"backends {', '.join(backends)}; reranker: {reranker or 'none installed'}")
    runs: dict[str, dict] = {}
    tuned: dict[str, dict] = {}
    for key in keys:
        for backend in backends:
            os.environ["HEARTH_EMBED_BACKEND"] = backend
            label = f"{Path(key).name}/{backend}"
            name = f"devset-{len(runs)}"
            report, seconds = index(name, files, key, args.chunk_tokens, args.overlap)
            model = embedders.get_embedder(key)  # the one the indexer used (cached per key and backend)
            print(f"{label}: {report.chunks} chunks from {report.pages} pages + {report.indexed} files indexed in "
                  f"{seconds:.0f} s ({report.pages / seconds:.2f} pages/s; embedder ran on {model.backend})")
            modes = run_modes(name, [q["question"] for q in questions], reranker)
            runs[label] = {"chunks": report.chunks, "index_s": round(seconds, 1), "modes": {}}
            for mode, (hits, ms) in modes.items():
                m = devset_metrics(scorer, questions, hits)
                m["ms_per_query"] = round(ms, 1)
                runs[label]["modes"][mode] = m
                show(mode + (" (default)" if mode == DEFAULT_MODE else ""), m,
                     f"  [dedup r@5 {m['recall5_dedup']:.3f}; paraphrased r@5 {m['paraphrased_recall5']:.3f}; "
                     f"{ms:.0f} ms/query]")
                if args.results:
                    out = Path(args.results)
                    out.mkdir(parents=True, exist_ok=True)
                    with open(out / f"{label.replace('/', '-')}-{mode}.jsonl", "w") as fh:
                        for row in to_results(questions, hits):
                            fh.write(json.dumps(row) + "\n")
            if not args.no_tuned:
                tuned[label] = evaluate_tuned(key, reranker, args.chunk_tokens, args.overlap)
    floors = {"readme": README_FLOORS}
    print("floors (dev set README, all 50 questions):")
    show("BM25 over whole pages", README_FLOORS["bm25_pages"])
    show("naive script, 1000 chars", README_FLOORS["naive_dense_1000"])
    if not args.no_floors:
        hits, count, seconds = naive_dense(files, [q["question"] for q in questions])
        floors["naive_dense_1000_live"] = devset_metrics(scorer, questions, hits)
        show("naive script, re-run here", floors["naive_dense_1000_live"],
             f"  [{count} chunks, raw encode {count / seconds:.1f} chunks/s]")
    if tuned:
        print(f"tuned-on: the {len(QUESTIONS)} R-manual questions the chunk size was chosen with (not a measure of "
              "unseen questions):")
        for label, modes in tuned.items():
            for mode, m in modes.items():
                show(f"{label} {mode}", m)
    first = runs[next(iter(runs))]["modes"][DEFAULT_MODE]
    print(json.dumps({
        "devset_recall5": round(first["recall5"], 3), "devset_mrr10": round(first["mrr10"], 3),
        "devset_ndcg10": round(first["ndcg10"], 3), "devset_recall1": round(first["recall1"], 3),
        "default_mode": DEFAULT_MODE, "questions": len(questions),
        "devset": {label: {"chunks": r["chunks"], "index_s": r["index_s"],
                           **{mode: {k: round(v, 3) for k, v in m.items()} for mode, m in r["modes"].items()}}
                   for label, r in runs.items()},
        "tuned_on": {label: {mode: {k: round(v, 3) for k, v in m.items()} for mode, m in modes.items()}
                     for label, modes in tuned.items()},
        "floors": {k: {kk: round(vv, 3) for kk, vv in v.items()} if k != "readme" else v for k, v in floors.items()},
    }))


def evaluate_tuned(embedder_key: str, reranker: str, chunk_tokens: int | None, overlap: int | None) -> dict:
    """The 41 tuned-on R-manual questions: {mode: recall@1, recall@5, MRR@10} over distinct (file, page)."""
    name = f"tuned-{abs(hash((embedder_key, os.environ.get('HEARTH_EMBED_BACKEND'))))}"
    index(name, ensure_corpus(), embedder_key, chunk_tokens, overlap)
    modes = run_modes(name, [q for q, _, _ in QUESTIONS], reranker)
    return {mode: score([page_ranking_keys(h) for h in hits]) for mode, (hits, _) in modes.items()}


def page_ranking_keys(hits, k=10) -> list[tuple[str, int]]:
    seen: list[tuple[str, int]] = []
    for file, page in hits:
        key = (Path(file).name, page)
        if key not in seen:
            seen.append(key)
    return seen[:k]


if __name__ == "__main__":
    main()
