"""Prompt-lookup decoding for document answers: Hearth's ChatModel loaded with llama-cpp-python's
LlamaPromptLookupDecoding draft model vs plain raw llama-cpp-python generation, on devset answers.

For each devset question the documents prompt is built by Hearth's own path (chat/documents.prepare: retrieval
over the indexed devset collection, the numbered sources, the question), then generated greedily twice in one
process: by Hearth's ChatModel.chat(draft=True) (the model loaded with prompt_lookup=True, which also needs
logits for every token) and by a plain llama_cpp.Llama (no draft model, no logits_all) from the same prompt tokens.
Same output under greedy decoding is checked; speed is decode tok/s (after the first token) and whole-answer
seconds (prompt + decode), medians over the questions.

    python tests/benchmarks/prompt_lookup.py --devset ../shared/eval/devset --devset-corpus ~/devset-corpus \
        --home DIR_WITH_INDEX [--limit 5] [--threads 1] [--max-tokens 128]

The index is the one tests/benchmarks/rag_answers.py builds (--home). Last line: one JSON object with
decode_ratio (Hearth PLD tok/s ÷ raw tok/s), answer_ratio (raw seconds ÷ Hearth seconds), same_output, questions.
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


def raw_generate(llm, tokens: list[int], max_tokens: int) -> tuple[str, int, float, float]:
    """Plain llama-cpp-python greedy generation: (text, tokens, seconds, decode tok/s)."""
    llm.reset()
    started = time.perf_counter()
    first = None
    pieces = []
    for chunk in llm.create_completion(tokens, max_tokens=max_tokens, temperature=0.0, top_k=1, top_p=1.0,
                                       min_p=0.0, repeat_penalty=1.0, seed=0, stream=True):
        if first is None:
            first = time.perf_counter()
        pieces.append(chunk["choices"][0]["text"])
    end = time.perf_counter()
    n = len(pieces)
    return "".join(pieces), n, end - started, (n - 1) / (end - first) if first and n > 1 and end > first else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devset", required=True, type=Path)
    parser.add_argument("--devset-corpus", required=True, type=Path)
    parser.add_argument("--home", required=True, type=Path, help="HEARTH_HOME with the indexed devset collection")
    parser.add_argument("--limit", type=int, default=5)
    parser.add_argument("--model")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--ctx", type=int, default=4096)
    args = parser.parse_args()
    os.environ["HEARTH_HOME"] = str(args.home)
    if args.model:
        model_path = args.model
    else:
        from tests.fixtures.qwen import assemble

        model_path = str(assemble())
    from tests.benchmarks.rag_answers import COLLECTION, ensure_index

    ensure_index(args.home, args.devset_corpus)
    import llama_cpp

    from app.core import devices
    from app.core.chat.documents import DocumentsRequest, prepare
    from app.core.chat.llama import ChatModel
    from app.core.documents.retriever import Retriever
    from app.core.settings import DocumentsSettings

    threads = args.threads or devices.physical_cores()
    model = ChatModel.load(model_path, n_ctx=args.ctx, n_threads=threads, prompt_lookup=True)
    raw = llama_cpp.Llama(model_path, n_ctx=args.ctx, n_threads=threads, n_threads_batch=threads, verbose=False)
    retriever = Retriever()
    questions = [json.loads(line) for line in (args.devset / "questions.jsonl").read_text().splitlines() if line]
    rows = []
    try:
        for q in questions[:args.limit]:
            request = DocumentsRequest.from_settings([COLLECTION], DocumentsSettings())
            request.rewrite = False
            messages, use = prepare(model, [{"role": "user", "content": q["question"]}], request, args.max_tokens,
                                    retriever)
            tokens = model.prompt_tokens(messages)
            model.reset_cache()
            result = model.chat(messages, max_tokens=args.max_tokens, temperature=0.0, top_k=1, top_p=1.0,
                                min_p=0.0, seed=0, draft=True)
            text, n, seconds, tps = raw_generate(raw, tokens, args.max_tokens)
            row = {"id": q["id"], "prompt_tokens": len(tokens), "same": result.text.strip() == text.strip(),
                   "hearth_tps": round(result.tokens_per_s, 2), "raw_tps": round(tps, 2),
                   "hearth_s": round(result.seconds, 2), "raw_s": round(seconds, 2),
                   "hearth_tokens": result.completion_tokens, "raw_tokens": n}
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)
    finally:
        retriever.store.close()
        model.close()
        raw.close()
    decode = [r["hearth_tps"] / r["raw_tps"] for r in rows if r["raw_tps"]]
    answer = [r["raw_s"] / r["hearth_s"] for r in rows if r["hearth_s"]]
    print(json.dumps({"decode_ratio": round(statistics.median(decode), 3) if decode else None,
                      "answer_ratio": round(statistics.median(answer), 3) if answer else None,
                      "hearth_tps": statistics.median(r["hearth_tps"] for r in rows),
                      "raw_tps": statistics.median(r["raw_tps"] for r in rows),
                      "same_output": sum(r["same"] for r in rows) / len(rows), "questions": len(rows),
                      "threads": threads}))


if __name__ == "__main__":
    main()
