"""`hearth chat`: one turn with a GGUF model, streamed to stdout; conversations are stored and can be continued."""

from __future__ import annotations

import json
import sys

from app.core.errors import JobCancelled, UserError


def register(sub) -> None:
    p = sub.add_parser("chat", help="chat with a GGUF model (streams the reply to stdout)")
    p.add_argument("prompt", nargs="?", help="your message (read from stdin when omitted or '-')")
    p.add_argument("--model", metavar="PATH", help="GGUF file (default: the conversation's model, or the last one)")
    p.add_argument("--system", metavar="TEXT", help="system prompt (a new conversation's, or replaces the stored one)")
    p.add_argument("--max-tokens", type=int, default=None, metavar="N")
    p.add_argument("--temperature", type=float, default=None, metavar="T")
    p.add_argument("--top-p", type=float, default=None)
    p.add_argument("--top-k", type=int, default=None)
    p.add_argument("--min-p", type=float, default=None)
    p.add_argument("--repeat-penalty", type=float, default=None)
    p.add_argument("--preset", default=None, help="sampling preset: Precise, Balanced, Creative or one of yours")
    p.add_argument("--seed", type=int, default=None, metavar="S")
    p.add_argument("--ctx", type=int, default=None, metavar="N", help="context length (default: the model's, capped)")
    p.add_argument("--gpu-layers", type=int, default=None, metavar="N", help="layers on the GPU (-1: automatic)")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--policy", choices=["truncate_middle", "rolling_window", "stop"], default=None,
                   help="what to do when the conversation no longer fits the context")
    p.add_argument("--template", default=None, help="chat template: auto, gemma, llama3, chatml, mistral, phi3")
    p.add_argument("--conversation", metavar="ID", help="continue a stored conversation")
    p.add_argument("--collection", action="append", metavar="NAME",
                   help="answer from this document collection, citing its passages as [n] (repeatable; "
                        "stored with the conversation)")
    p.add_argument("--no-collections", action="store_true",
                   help="do not use the conversation's stored collections for this turn")
    p.add_argument("--no-save", action="store_true", help="do not store this exchange")
    p.add_argument("--list", action="store_true", help="list stored conversations and exit")
    p.add_argument("--json", action="store_true", help="print one JSON object with the reply and figures at the end")
    p.set_defaults(func=run)


def run(args) -> int:
    try:
        return _run(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


def _run(args) -> int:
    from app.core.chat import presets
    from app.core.chat.llama import ChatModel
    from app.core.chat.jobs import ChatEngine, ReplyRequest
    from app.core.chat.store import ConversationStore
    from app.core.jobs import ConsoleState
    from app.core.settings import Settings

    settings = Settings.load()
    cs = settings.chat
    store = ConversationStore()
    if args.list:
        for conv in store.list():
            print(f"{conv.id}  {conv.title}  ({conv.model or 'no model'})")
        return 0
    prompt = args.prompt
    if prompt in (None, "-"):
        prompt = sys.stdin.read()
    if not prompt or not prompt.strip():
        raise UserError("Nothing to say: give a prompt, e.g. hearth chat --model model.gguf \"Hello\".")

    conv = store.get(args.conversation) if args.conversation else None
    model_path = args.model or (conv.model if conv else "") or cs.last_model
    if not model_path:
        raise UserError("No model given. Use --model PATH to a .gguf file.")

    sampling = presets.preset(args.preset or (conv.settings.get("preset") if conv else None) or cs.preset,
                              cs.user_presets)
    if conv and conv.settings.get("sampling"):
        sampling = presets.Sampling.from_dict({**sampling.to_dict(), **conv.settings["sampling"]})
    for name in ("max_tokens", "temperature", "top_p", "top_k", "min_p", "repeat_penalty", "seed"):
        value = getattr(args, name)
        if value is not None:
            setattr(sampling, name, value)
    policy = args.policy or cs.overflow_policy

    collections = _collections(args, conv)

    out = sys.stdout

    def on_partial(piece) -> None:
        if isinstance(piece, str) and not args.json:
            out.write(piece)
            out.flush()

    state = ConsoleState(on_partial=on_partial)
    template = args.template or cs.templates.get(str(model_path))
    try:
        model = ChatModel.load(model_path, n_ctx=args.ctx or cs.context_length or None,
                               n_gpu_layers=args.gpu_layers if args.gpu_layers is not None else cs.gpu_layers,
                               n_threads=args.threads or cs.threads or None, state=state,
                               context_cap=cs.context_cap, flash_attn=cs.flash_attn, use_mmap=cs.use_mmap,
                               template=template)
    except JobCancelled:
        return 130
    state.finish()
    try:
        if conv is None and not args.no_save:
            conv = store.create(model=str(model_path), system_prompt=args.system or "",
                                settings={"sampling": sampling.to_dict(), "policy": policy,
                                          "collections": collections})
        elif conv is not None and (args.system is not None or args.collection):
            changes = {"system_prompt": args.system} if args.system is not None else {}
            if args.collection:
                changes["settings"] = {**conv.settings, "collections": collections}
            conv = store.update(conv.id, **changes)
        history = store.history(conv.id) if conv else ([{"role": "system", "content": args.system}]
                                                        if args.system else [])
        messages = history + [{"role": "user", "content": prompt}]
        engine = ChatEngine()
        engine.model = model
        request = ReplyRequest(messages, sampling.kwargs(), policy,
                               documents=None if args.no_collections or not collections
                               else _documents_request(collections, settings.documents))
        try:
            result = engine.reply(request, state)
        finally:
            engine.release_documents()
        if conv is not None:
            store.add_message(conv.id, "user", prompt)
            store.add_message(conv.id, "assistant", result.text, model=model.load_info.name,
                              info={**result.to_dict(), "text": None, "sampling": sampling.to_dict()})
            store.update(conv.id, model=str(model_path))
    finally:
        model.close()
    cs.last_model = str(model_path)
    try:
        settings.save()
    except OSError:
        pass
    if args.json:
        data = result.to_dict()
        data["conversation"] = conv.id if conv else None
        print(json.dumps(data, ensure_ascii=False))
    else:
        out.write("\n")
        _print_documents(result.documents, out)
        note = f"; {result.note}" if result.note else ""
        print(f"[{result.completion_tokens} tokens, {result.tokens_per_s:.1f} tok/s, first token "
              f"{result.ttft_s:.2f} s, context {result.context_used}/{result.n_ctx}{note}"
              f"{'; conversation ' + conv.id if conv else ''}]", file=sys.stderr)
    return 0


def _collections(args, conv) -> list[str]:
    """The collections of this turn: --collection names (they replace the stored ones), else the conversation's."""
    if args.collection:
        return list(dict.fromkeys(name.strip() for name in args.collection if name.strip()))
    return list(conv.settings.get("collections") or []) if conv else []


def _documents_request(collections: list[str], docs):
    from app.core.chat.documents import DocumentsRequest
    from app.core.documents.jobs import options_from_settings

    return DocumentsRequest(collections, k=docs.answer_k, min_similarity=docs.min_similarity,
                            options=options_from_settings(docs, k=docs.answer_k))


def _print_documents(use, out) -> None:
    """After the streamed reply: what the documents gave (stdout), and what could not be used (stderr)."""
    if use is None:
        return
    for problem in use.problems:
        print(f"warning: {problem}", file=sys.stderr)
    if use.note:
        out.write(f"\n({use.note} The reply cites nothing.)\n")
    if use.sources:
        out.write("\nSources:\n")
        for source in use.sources:
            mark = "*" if source.n in use.cited else " "
            where = f"page {source.page}" if source.page is not None else (source.heading or "")
            out.write(f" {mark}[{source.n}] {source.file}  {where}\n")
    if use.invalid:
        out.write(f"\n(removed citations of sources that do not exist: {use.invalid})\n")
