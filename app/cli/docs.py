"""`hearth docs`: index files into collections, search them, ask questions with cited answers.

    hearth docs index PATH... --collection NAME [--no-ocr]
    hearth docs search --collection NAME "query" [--k 10] [--json]
    hearth docs search --collection NAME --queries Q.jsonl [--k 10]     (JSON lines in, JSON lines out)
    hearth docs ask --collection NAME --model GGUF "question" [--json]
    hearth docs list [--json]
    hearth docs remove --collection NAME
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from app.cli.common import guarded, print_sources
from app.core.errors import UserError


def register(sub) -> None:
    parser = sub.add_parser("docs", help="index documents, search them, ask questions with citations")
    docs = parser.add_subparsers(dest="docs_command", metavar="ACTION")
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])

    index = docs.add_parser("index", help="add files/folders to a collection and index what is new or changed")
    index.add_argument("paths", nargs="*", metavar="PATH", help="files or folders (none: re-scan the collection)")
    index.add_argument("--collection", "-c", required=True, metavar="NAME")
    index.add_argument("--embedder", metavar="MODEL", help="embedding model for a new collection "
                       "(installed name or folder; default: built-in all-MiniLM-L6-v2)")
    index.add_argument("--chunk-tokens", type=int, metavar="N")
    index.add_argument("--overlap", type=int, metavar="N")
    index.add_argument("--stemming", action=argparse.BooleanOptionalAction, default=None,
                       help="English stemming in keyword search (default: settings; changing it rebuilds the "
                            "keyword index, no re-embedding)")
    index.add_argument("--ocr", action=argparse.BooleanOptionalAction, default=None,
                       help="read scanned PDF pages and PNG/JPEG/TIFF images with OCR (default: settings, on; "
                            "HEARTH_OCR=0 turns it off)")
    index.add_argument("--rechunk", action="store_true",
                       help="re-chunk and re-embed every file (at --chunk-tokens/--overlap or the settings' size) "
                            "with contextual headers: upgrades a collection made by an older Hearth")
    index.add_argument("--json", action="store_true", help="print the report as JSON")
    index.set_defaults(func=run_index)

    search = docs.add_parser("search", help="retrieve passages (no language model involved)")
    search.add_argument("query", nargs="?")
    search.add_argument("--collection", "-c", required=True, action="append", metavar="NAME")
    search.add_argument("--queries", type=Path, metavar="Q.jsonl",
                        help='batch: JSON lines {"id", "question"}; prints {"id", "hits"} per line')
    _search_options(search, k_default=None)
    search.add_argument("--json", action="store_true", help="JSON lines: file, page, score, text")
    search.set_defaults(func=run_search)

    ask = docs.add_parser("ask", help="answer a question from a collection, citing file and page")
    ask.add_argument("question")
    ask.add_argument("--collection", "-c", required=True, action="append", metavar="NAME")
    ask.add_argument("--model", "-m", required=True, metavar="GGUF", help="chat model (.gguf path or installed name)")
    _search_options(ask, k_default=None)
    ask.add_argument("--max-tokens", type=int, default=384)
    ask.add_argument("--temperature", type=float, default=0.2)
    ask.add_argument("--seed", type=int, default=0)
    ask.add_argument("--ctx", type=int, default=4096, help="context size in tokens")
    ask.add_argument("--hyde", action=argparse.BooleanOptionalAction, default=None,
                     help="also search with a hypothetical answer the model writes first (HyDE; default: the "
                          "Chat setting)")
    ask.add_argument("--json", action="store_true")
    ask.set_defaults(func=run_ask)

    lst = docs.add_parser("list", help="list collections")
    lst.add_argument("--json", action="store_true")
    lst.add_argument("--files", action="store_true", help="also list each file with its state")
    lst.set_defaults(func=run_list)

    remove = docs.add_parser("remove", help="delete a collection's index (your files are not touched)")
    remove.add_argument("--collection", "-c", required=True, metavar="NAME")
    remove.set_defaults(func=run_remove)


def _search_options(parser, k_default) -> None:
    parser.add_argument("--k", type=int, default=k_default, metavar="N", help="how many passages")
    parser.add_argument("--mode", choices=("hybrid", "dense", "bm25"), help="retrieval mode (default: settings)")
    parser.add_argument("--rerank", metavar="RERANKER", help="re-rank with an installed cross-encoder")


_guard = guarded("\ncancelled: what was indexed is kept; run the same command to continue")


def _settings():
    from app.core.settings import Settings

    return Settings.load().documents


def _options(args, k_fallback: int):
    from app.core.documents.jobs import options_from_settings

    docs = _settings()
    if args.k is not None and args.k < 1:
        raise UserError("--k must be at least 1")
    return options_from_settings(docs, k=args.k or k_fallback, mode=args.mode,
                                 reranker=args.rerank if args.rerank is not None else None), docs


@_guard
def run_index(args) -> int:
    from app.core.documents.jobs import IndexRequest, index_collection
    from app.core.jobs import ConsoleState

    docs = _settings()
    request = IndexRequest(args.collection, [str(p) for p in args.paths], model=args.embedder or docs.embedder,
                           chunk_tokens=args.chunk_tokens or docs.chunk_tokens,
                           chunk_overlap=args.overlap if args.overlap is not None else docs.chunk_overlap,
                           stemming=docs.stemming if args.stemming is None else args.stemming, rechunk=args.rechunk,
                           ocr=docs.ocr if args.ocr is None else args.ocr)
    state = ConsoleState()
    report = index_collection(request, state)
    state.finish()
    if args.json:
        print(json.dumps({"collection": report.collection, "files": report.files, "indexed": report.indexed,
                          "unchanged": report.unchanged, "removed": report.removed, "chunks": report.chunks,
                          "seconds": round(report.seconds, 3), "ocr_pages": report.ocr_pages,
                          "failed": [{"file": f, "reason": r} for f, r in report.failed],
                          "empty": [{"file": f, "reason": r} for f, r in report.empty],
                          "notes": [{"file": f, "note": r} for f, r in report.notes]}))
    else:
        print(f"{report.collection}: {report.files} files — {report.indexed} indexed, {report.unchanged} unchanged, "
              f"{report.removed} removed, {len(report.failed)} failed, {len(report.empty)} empty; "
              f"{report.chunks} chunks in {report.seconds:.1f} s"
              + (f"; {report.ocr_pages} pages read by OCR" if report.ocr_pages else ""))
        for path, note in report.notes:
            print(f"  note    {path}: {note}")
        for path, reason in report.failed:
            print(f"  failed  {path}: {reason}")
        for path, reason in report.empty:
            print(f"  empty   {path}: {reason}")
    return 0


@_guard
def run_search(args) -> int:
    from app.core.documents.retriever import Retriever

    options, docs = _options(args, _settings().search_k)
    if (args.query is None) == (args.queries is None):
        raise UserError('give either a query or --queries FILE.jsonl')
    from app.core.documents.jobs import indexing_notes

    retriever = Retriever()
    infos = [retriever.store.get(name) for name in args.collection]
    for note in indexing_notes(retriever.store, infos):
        print(f"note: “{note.collection}”: {note.note}", file=sys.stderr)
    if args.queries is not None:
        for line_no, item in _read_queries(args.queries):
            hits = retriever.search(infos, item["question"], options)
            print(json.dumps({"id": item["id"], "hits": [_hit_json(h) for h in hits]}, ensure_ascii=False),
                  flush=True)
        return 0
    hits = retriever.search(infos, args.query, options)
    if args.json:
        for hit in hits:
            print(json.dumps(_hit_json(hit), ensure_ascii=False))
        return 0
    if not hits:
        print("No passages found.")
    for i, hit in enumerate(hits, 1):
        print(f"{i:>2}. {hit.score:.4f}  {hit.file}  {hit_where(hit)}")
        text = " ".join(hit.text.split())
        print(f"    {text[:300]}{'…' if len(text) > 300 else ''}")
    return 0


def _hit_json(hit) -> dict:
    return {"file": hit.file, "page": hit.page, "score": round(hit.score, 6), "text": hit.text, "ocr": hit.ocr}


def hit_where(hit) -> str:
    """'page 3', the heading, or ''; ' (OCR)' after it when OCR read the passage."""
    where = f"page {hit.page}" if hit.page is not None else (hit.heading or "")
    return f"{where} (OCR)".lstrip() if hit.ocr else where


def _read_queries(path: Path):
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from exc
    items = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as exc:
            raise UserError(f"{path} line {n} is not JSON: {exc}") from exc
        if not isinstance(item, dict) or "question" not in item or not isinstance(item["question"], str):
            raise UserError(f'{path} line {n} needs {{"id": ..., "question": "..."}}')
        items.append((n, {"id": item.get("id", n), "question": item["question"]}))
    return items


def _resolve_chat_model(name: str) -> str:
    from app.core.connections import resolve_model
    from app.core.settings import Settings

    path = Path(resolve_model(name, Settings.load())).expanduser()
    if path.is_file():
        return str(path.resolve())
    raise UserError(f"chat model '{name}' not found: give a .gguf path or the name of an installed chat model")


@_guard
def run_ask(args) -> int:
    """A one-question chat reply that answers from the collections (the Chat tab's path), not stored."""
    from app.core.chat import presets
    from app.core.chat.conversation import Conversation, TurnOptions
    from app.core.chat.jobs import ChatEngine, LoadRequest
    from app.core.documents.store import Store
    from app.core.jobs import ConsoleState, JobState, run_sync
    from app.core.settings import Settings

    model_path = _resolve_chat_model(args.model)
    _options(args, 1)  # the search options are valid
    store = Store()
    try:
        for name in args.collection:
            store.get(name)  # an unknown collection is an error here, not a warning
    finally:
        store.close()
    settings = Settings.load()
    sampling = presets.Sampling(temperature=args.temperature, seed=args.seed, max_tokens=args.max_tokens,
                                top_p=0.95, top_k=40, min_p=0.05, repeat_penalty=1.0)
    options = TurnOptions(sampling, collections=list(args.collection), documents=settings.documents,
                          search={"k": args.k, "mode": args.mode, "reranker": args.rerank},
                          hyde=settings.chat.hyde if args.hyde is None else args.hyde)
    state = ConsoleState(quiet=args.json)
    engine = ChatEngine()
    try:
        run_sync(engine.load_job(LoadRequest.from_settings(model_path, settings.chat, n_ctx=args.ctx)), state)
        turn = Conversation.in_memory().send(args.question, options)
        result = run_sync(turn.job(engine), JobState(on_progress=state.progress, on_partial=turn.feed))
    finally:
        engine.close_when_idle(0)
        state.finish()
    use = result.documents
    if args.json:
        print(json.dumps({"question": args.question, "answer": result.text, **use.to_json()}, ensure_ascii=False))
        return 0
    print(result.text)
    print_sources(use)
    return 0


@_guard
def run_list(args) -> int:
    from app.core.documents.jobs import list_collections
    from app.core.documents.store import Store

    summaries = list_collections()
    store = Store() if args.files else None
    for s in summaries:
        files = [{"file": f.path, "state": f.state, "reason": f.reason or None, "chunks": f.chunks}
                 for f in store.files(store.get(s.name))] if store else None
        if args.json:
            out = s.to_json()
            if files is not None:
                out["file_list"] = files
            print(json.dumps(out, ensure_ascii=False))
            continue
        print(f"{s.name}: {s.files} files ({s.indexed} indexed, {s.pending} pending, {s.failed} failed, "
              f"{s.empty} empty), {s.chunks} chunks, embedder {s.model}")
        if s.chunk_format < 2:
            print(f"  made by an older Hearth (no document titles or section paths in its passages): "
                  f"`hearth docs index -c {s.name} --rechunk` rebuilds it from its files for better search")
        for src in s.sources:
            print(f"  source  {src}")
        for f in files or []:
            print(f"  {f['state']:<9} {f['file']}" + (f"  — {f['reason']}" if f["reason"] else ""))
    if not summaries and not args.json:
        print("No collections yet. Make one with: hearth docs index PATH... --collection NAME")
    return 0


@_guard
def run_remove(args) -> int:
    from app.core.documents.jobs import remove_collection

    remove_collection(args.collection)
    print(f"removed collection '{args.collection}' (your files were not touched)")
    return 0
