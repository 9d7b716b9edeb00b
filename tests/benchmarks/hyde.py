"""HyDE on the devset: Hearth's default hybrid search with and without the hypothetical passage the chat model
writes (chat/query.hypothetical_passage → Retriever.search(dense_text=…)), at page level, and what it costs.

    python tests/benchmarks/hyde.py --devset ../shared/eval/devset --devset-corpus ~/devset-corpus \
        --home DIR_WITH_INDEX [--limit N] [--threads 1]

The index is the one tests/benchmarks/rag_answers.py builds (--home). Chat model: Qwen2.5-Coder-0.5B-Instruct.
Last line: one JSON object with recall5, hyde_recall5, mrr10, hyde_mrr10, hyde_ms (median), search_ms, questions.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def first_gold_rank(hits, gold) -> int | None:
    """1-based rank of the first gold hit among distinct (file, page) pairs, within 10."""
    from tests.benchmarks.rag_answers import is_gold

    seen = []
    for hit in hits:
        key = (Path(hit.file).name, hit.page)
        if key in seen:
            continue
        seen.append(key)
        if is_gold({"file": hit.file, "page": hit.page, "page_end": hit.page_end}, gold):
            return len(seen)
        if len(seen) == 10:
            break
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devset", required=True, type=Path)
    parser.add_argument("--devset-corpus", required=True, type=Path)
    parser.add_argument("--home", required=True, type=Path)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--model")
    args = parser.parse_args()
    os.environ["HEARTH_HOME"] = str(args.home)
    from tests.benchmarks.rag_answers import COLLECTION, ensure_index

    ensure_index(args.home, args.devset_corpus)
    if args.model:
        model_path = args.model
    else:
        from tests.fixtures.qwen import assemble

        model_path = str(assemble())
    from app.core.chat import query
    from app.core.chat.llama import ChatModel
    from app.core.documents.jobs import options_from_settings
    from app.core.documents.retriever import Retriever
    from app.core.settings import DocumentsSettings

    model = ChatModel.load(model_path, n_ctx=2048, n_threads=args.threads)
    retriever = Retriever()
    info = retriever.store.get(COLLECTION)
    options = options_from_settings(DocumentsSettings(), k=10)
    questions = [json.loads(line) for line in (args.devset / "questions.jsonl").read_text().splitlines() if line]
    questions = questions[:args.limit] if args.limit else questions
    plain, hyde, costs, search_ms = [], [], [], []
    try:
        for q in questions:
            started = time.perf_counter()
            plain.append(first_gold_rank(retriever.search(info, q["question"], options), q["gold"]))
            search_ms.append((time.perf_counter() - started) * 1000)
            passage, ms = query.hypothetical_passage(model, q["question"])
            costs.append(ms)
            hyde.append(first_gold_rank(retriever.search(info, q["question"], options, dense_text=passage),
                                        q["gold"]))
            print(q["id"], plain[-1], hyde[-1], f"{ms:.0f} ms", repr(passage[:100]), file=sys.stderr)
    finally:
        retriever.store.close()
        model.close()

    def recall5(ranks):
        return round(sum(r is not None and r <= 5 for r in ranks) / len(ranks), 3)

    def mrr10(ranks):
        return round(sum(1 / r for r in ranks if r) / len(ranks), 3)

    print(json.dumps({"recall5": recall5(plain), "hyde_recall5": recall5(hyde), "mrr10": mrr10(plain),
                      "hyde_mrr10": mrr10(hyde), "hyde_ms": round(statistics.median(costs)),
                      "search_ms": round(statistics.median(search_ms)), "questions": len(questions)}))


if __name__ == "__main__":
    main()
