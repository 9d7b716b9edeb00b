"""Answers a small local model gives from documents: the devset questions through `hearth docs ask`'s path.

Each question of the development set (../shared/eval/devset, written independently of Hearth; its corpus is the
Debian documentation folder `fetch.sh` downloads) goes through the same path as `hearth docs ask`: a one-question
in-memory conversation with the collection attached (chat/conversation.py → chat/documents.py), the default
search settings, the chat model Qwen2.5-Coder-0.5B-Instruct (Q4_K_M, the test fixture's file unless --model),
greedy decoding. The collection is indexed once with Hearth's real indexer into --home (a temporary HEARTH_HOME
unless given; an already indexed `devset` collection there is reused).

Figures, each a share of the questions:
  hint        the answer contains the question's `answer_hint` (whitespace and quotes folded, case ignored)
  gold_cited  the answer cites a source whose file and page are gold (a whole-file gold: any page of the file)
  no_citation the answer cites nothing
  echo        the answer repeats the prompt's instructions (an 8-word run of them, or "do not make up an answer")
  bare        the answer is only citations ("[1]", "[1][2].")
  retried     (new prompt only) the first reply was bare, an echo or a pasted list of the excerpts and was made again
              with the stricter format
  model_gold_cited  gold_cited counting only citations the model wrote in an answer of its own (not attributed
              ones, not a reply of source numbers only, not an extracted answer)
  attributed  the model cited nothing and Hearth added citations by word overlap (attribution.attribute)
  model_no_answer  the model's reply was still no answer after the retry (bare, echo or list)
  extracted   ...and Hearth showed the sources' best-matching sentences instead (attribution.extract_answer)
  gold_given  a gold page was among the sources the model was given (retrieval's share of the result)

    python tests/benchmarks/rag_answers.py --devset ../shared/eval/devset --devset-corpus ~/devset-corpus \
        [--home DIR] [--limit N] [--model GGUF] [--out answers.jsonl] [--prompt-lookup]

The "before" figures come from running this same script with PYTHONPATH pointing at a checkout of the old code.
Last line: one JSON object with hint, gold_cited, model_gold_cited, attributed, no_citation, echo, bare, retried,
model_no_answer, extracted, gold_given, questions, s_per_answer.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))  # PYTHONPATH first: the code under test may be another checkout
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

COLLECTION = "devset"
# The instructions of both the old and the new answer prompt: a reply holding an 8-word run of them echoes them.
OLD_INSTRUCTIONS = (
    "You answer questions using only the numbered sources below, which are passages from the user's documents. "
    "After each statement, cite the source it comes from as [1], [2] and so on. If the sources do not contain the "
    "answer, say that the documents do not say, and do not make up an answer. Answer (cite sources as [n]):")
_WORDS = re.compile(r"[a-z0-9']+")
_CITE = re.compile(r"\[\s*\d+(?:\s*[,;]\s*\d+)*\s*\]")


def fold(text: str) -> str:
    """Lower case, typographic quotes as plain ones, whitespace runs as one space; spaces dropped entirely around
    nothing (pypdf's "SeeSection") is handled by also comparing without spaces."""
    text = text.lower().replace("”", '"').replace("“", '"').replace("’", "'").replace("‘", "'")
    return re.sub(r"\s+", " ", text).strip()


def has_hint(answer: str, hint: str) -> bool:
    a, h = fold(answer), fold(hint)
    return h in a or h.replace(" ", "") in a.replace(" ", "")


def instructions_text() -> str:
    """The instruction texts the replies could echo: the old prompt's and, when the code under test has them,
    the new prompt's."""
    texts = [OLD_INSTRUCTIONS]
    from app.core.chat import citations

    for name in ("SYSTEM_PROMPT", "ANSWER_INSTRUCTIONS", "ANSWER_FORMAT", "STRICT_FORMAT", "NOTHING_FOUND_PROMPT"):
        value = getattr(citations, name, None)
        if isinstance(value, str):
            texts.append(value)
    return "\n".join(texts)


def echoes(answer: str, instructions: str, n: int = 8) -> bool:
    """The answer holds a run of `n` words of the instructions, or their "do not make up an answer"."""
    words = _WORDS.findall(answer.lower())
    source = " ".join(_WORDS.findall(instructions.lower()))
    if "make up an answer" in " ".join(words):
        return True
    return any(" ".join(words[i:i + n]) in source for i in range(len(words) - n + 1))


def bare(answer: str) -> bool:
    """Only citations (and punctuation): fewer than 3 words once the [n] markers are gone."""
    return len(_WORDS.findall(_CITE.sub(" ", answer).lower())) < 3


def is_gold(source: dict, gold: list[dict]) -> bool:
    name = Path(source["file"]).name
    first, last = source.get("page"), source.get("page_end") or source.get("page")
    return any(g["file"] == name and (g["page"] is None or (first is not None and first <= g["page"] <= last))
               for g in gold)


def gold_cited(use: dict, gold: list[dict]) -> bool:
    by_n = {s["n"]: s for s in use.get("sources", [])}
    return any(n in by_n and is_gold(by_n[n], gold) for n in use.get("cited", []))


def ensure_index(home: Path, corpus: Path) -> None:
    """Index the corpus into HEARTH_HOME `home` as the collection `devset`, unless it is there already."""
    from app.core.documents.indexer import IndexRequest, index_collection
    from app.core.documents.store import Store
    from app.core.jobs import ConsoleState

    store = Store()
    try:
        info = store.find(COLLECTION)
        done = info is not None and sum(f.state == "indexed" for f in store.files(info)) >= 26
    finally:
        store.close()
    if done:
        print(f"reusing the indexed collection in {home}", file=sys.stderr)
        return
    started = time.perf_counter()
    state = ConsoleState()
    index_collection(IndexRequest(COLLECTION, add=[str(corpus)]), state)
    state.finish()
    print(f"indexed {corpus} in {time.perf_counter() - started:.0f} s", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devset", required=True, type=Path, help="folder with questions.jsonl")
    parser.add_argument("--devset-corpus", required=True, type=Path, help="folder with the 26 corpus files")
    parser.add_argument("--home", type=Path, help="HEARTH_HOME holding (or to hold) the indexed collection")
    parser.add_argument("--limit", type=int, help="only the first N questions (while iterating)")
    parser.add_argument("--only", help="comma-separated question ids")
    parser.add_argument("--model", help="chat GGUF (default: the tests' Qwen2.5-Coder-0.5B-Instruct)")
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--ctx", type=int, default=4096)
    parser.add_argument("--threads", type=int, help="llama.cpp threads (default: the settings'; on a machine "
                        "shared with other jobs 1 is often faster than 2)")
    parser.add_argument("--hyde", action="store_true", help="search with HyDE too (its cost: hyde_ms)")
    parser.add_argument("--out", type=Path, help="write each answer as a JSON line here")
    args = parser.parse_args()

    home = args.home or Path(tempfile.mkdtemp(prefix="hearth-rag-answers-"))
    home.mkdir(parents=True, exist_ok=True)
    os.environ["HEARTH_HOME"] = str(home)
    questions = [json.loads(line) for line in (args.devset / "questions.jsonl").read_text().splitlines() if line]
    if args.only:
        wanted = set(args.only.split(","))
        questions = [q for q in questions if q["id"] in wanted]
    questions = questions[:args.limit] if args.limit else questions
    if args.model:
        model_path = args.model
    else:
        from tests.fixtures.qwen import assemble

        model_path = str(assemble())

    from app.core.chat import presets
    from app.core.chat.conversation import Conversation, TurnOptions
    from app.core.chat.jobs import ChatEngine, LoadRequest
    from app.core.jobs import JobState, run_sync
    from app.core.settings import Settings

    ensure_index(home, args.devset_corpus)
    settings = Settings.load()
    sampling = presets.Sampling(temperature=0.0, seed=0, max_tokens=args.max_tokens, top_p=1.0, top_k=1,
                                min_p=0.0, repeat_penalty=1.0)
    engine = ChatEngine()
    run_sync(engine.load_job(LoadRequest.from_settings(model_path, settings.chat, n_ctx=args.ctx,
                                                       threads=args.threads)), JobState())
    instructions = instructions_text()
    rows, seconds = [], []
    out = open(args.out, "w", encoding="utf-8") if args.out else None
    try:
        for q in questions:
            options = TurnOptions(sampling, collections=[COLLECTION], documents=settings.documents)
            if args.hyde:
                options.hyde = True
            turn = Conversation.in_memory().send(q["question"], options)
            started = time.perf_counter()
            result = run_sync(turn.job(engine), JobState(on_partial=turn.feed))
            seconds.append(time.perf_counter() - started)
            use = result.documents.to_json()
            row = {"id": q["id"], "hint": has_hint(result.text, q["answer_hint"]),
                   "gold_cited": gold_cited(use, q["gold"]), "no_citation": not use["cited"],
                   "echo": echoes(result.text, instructions), "bare": bare(result.text),
                   "retried": bool(getattr(result.documents, "retried", False)),
                   "attributed": bool(use.get("attributed")),
                   "model_gold_cited": (gold_cited(use, q["gold"]) and not use.get("attributed")
                                        and not use.get("answer_problem") and not use.get("extracted")),
                   "model_no_answer": bool(use.get("answer_problem")), "extracted": bool(use.get("extracted")),
                   "gold_given": any(is_gold(src, q["gold"]) for src in use["sources"]),
                   "hyde_ms": (use.get("expansion_ms") or {}).get("hyde"),
                   "answer": result.text, "cited": use["cited"],
                   "sources": [f"{Path(s['file']).name}:{s['page']}" for s in use["sources"]],
                   "seconds": round(seconds[-1], 2), "tokens": result.completion_tokens}
            rows.append(row)
            flags = " ".join(k for k in ("hint", "gold_cited", "attributed", "no_citation", "echo", "bare", "retried",
                                         "extracted")
                             if row[k])
            print(f"{q['id']} {seconds[-1]:5.1f}s [{flags}] {result.text[:160]!r}", file=sys.stderr)
            if out:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
                out.flush()
    finally:
        engine.close_when_idle(0)
        if out:
            out.close()
    n = len(rows)
    summary = {k: round(sum(r[k] for r in rows) / n, 3) for k in
               ("hint", "gold_cited", "model_gold_cited", "attributed", "no_citation", "echo", "bare",
                "retried", "model_no_answer", "extracted", "gold_given")}
    hyde = [r["hyde_ms"] for r in rows if r["hyde_ms"] is not None]
    summary.update(questions=n, s_per_answer=round(statistics.median(seconds), 2) if seconds else None,
                   hyde_ms=round(statistics.median(hyde)) if hyde else None, model=Path(model_path).name)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
