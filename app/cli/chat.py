"""`hearth chat`: one turn with a GGUF model, streamed to stdout; conversations are stored and can be continued,
exported (Markdown, JSON) and imported."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from app.cli.common import guarded, print_sources
from app.core.errors import UserError


def register(sub) -> None:
    p = sub.add_parser("chat", help="chat with a GGUF model (streams the reply to stdout)")
    p.add_argument("prompt", nargs="?", help="your message (read from stdin when omitted or '-')")
    p.add_argument("--model", metavar="PATH", help="GGUF file, an installed chat model's name or id (hearth models "
                                                   "list), or CONNECTION/MODEL for a model on another server "
                                                   "(hearth connections); default: the conversation's, or the last")
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
    p.add_argument("--export", metavar="ID", help="write conversation ID as Markdown or JSON and exit")
    p.add_argument("--format", choices=["md", "json"], default="md", help="export format (default: md)")
    p.add_argument("--out", metavar="FILE", help="export to FILE instead of stdout")
    p.add_argument("--import", dest="import_file", metavar="FILE",
                   help="import a conversation exported as JSON (a new conversation) and exit")
    p.add_argument("--image", action="append", metavar="PHOTO",
                   help="attach an image to the message (repeatable; needs a vision model with its mmproj projector)")
    p.add_argument("--json", action="store_true", help="print one JSON object with the reply and figures at the end")
    p.set_defaults(func=run)


@guarded(console=True)
def run(args, state) -> int:
    from app.core.chat.conversation import Conversation, TurnOptions
    from app.core.chat.jobs import ChatEngine, LoadRequest
    from app.core.chat.store import ConversationStore
    from app.core.jobs import run_sync
    from app.core.settings import Settings

    settings = Settings.load()
    cs = settings.chat
    store = ConversationStore()
    if args.list:
        for conv in store.list():
            print(f"{conv.id}  {conv.title}  ({conv.model or 'no model'})")
        return 0
    if args.export or args.import_file:
        return _export_or_import(args, store)
    prompt = args.prompt
    if prompt in (None, "-"):
        prompt = sys.stdin.read()
    if not prompt or not prompt.strip():
        raise UserError("Nothing to say: give a prompt, e.g. hearth chat --model model.gguf \"Hello\".")

    conversation = Conversation(store, args.conversation) if args.conversation else None
    stored = conversation.record.settings if conversation else {}
    model_path = args.model or (conversation.record.model if conversation else "") or cs.last_model
    if not model_path:
        raise UserError("No model given. Use --model PATH to a .gguf file.")
    from app.core.connections import resolve_model

    model_path = resolve_model(model_path, settings)

    options = TurnOptions.for_conversation(stored, cs, settings.documents, args.preset)
    for name in ("max_tokens", "temperature", "top_p", "top_k", "min_p", "repeat_penalty", "seed"):
        value = getattr(args, name)
        if value is not None:
            setattr(options.sampling, name, value)
    options.policy = args.policy or options.policy
    if args.collection:  # they replace the stored ones
        options.collections = list(dict.fromkeys(name.strip() for name in args.collection if name.strip()))

    images = _checked_images(args.image or [])
    engine = ChatEngine()
    request = LoadRequest.from_settings(model_path, cs, n_ctx=args.ctx, gpu_layers=args.gpu_layers,
                                        threads=args.threads, template=args.template)
    info = run_sync(engine.load_job(request), state)
    state.finish()
    try:
        engine.check_images([{"images": images}])  # a text-only model: the sentence, exit 1, nothing stored
        if conversation is None:
            conversation = Conversation.in_memory(args.system or "") if args.no_save else Conversation(store)
            if not args.no_save:
                conversation.start(model=str(model_path), system_prompt=args.system or "",
                                   settings=options.settings())
        elif args.system is not None or args.collection:
            changes = {"system_prompt": args.system} if args.system is not None else {}
            if args.collection:
                changes["settings"] = {**stored, "collections": options.collections}
            conversation.save(**changes)
        if args.no_collections:
            options.collections = []
        turn = conversation.send(prompt, options, info.name, images=images)
        try:
            result = _reply(engine, turn, state, quiet=args.json)
        except KeyboardInterrupt:  # keep what came, as the Chat tab does when you press Stop
            conversation.keep_stopped(turn)
            raise
        conversation.finish(turn, result)
        if not args.no_save or args.conversation:
            conversation.save(model=str(model_path))
    finally:
        engine.close_when_idle(0)
    cs.last_model = str(model_path)
    try:
        settings.save()
    except OSError:
        pass
    saved = conversation.id if (args.conversation or not args.no_save) else None
    if args.json:
        data = result.to_dict()
        data["conversation"] = saved
        print(json.dumps(data, ensure_ascii=False))
    else:
        sys.stdout.write("\n")
        if result.documents is not None and result.documents.extracted:  # the streamed reply was no answer
            sys.stdout.write(f"\nInstead, from the sources: {result.text}\n")
        print_sources(result.documents, sys.stdout)
        note = f"; {result.note}" if result.note else ""
        print(f"[{result.completion_tokens} tokens, {result.tokens_per_s:.1f} tok/s, first token "
              f"{result.ttft_s:.2f} s, context {result.context_used}/{result.n_ctx}{note}"
              f"{'; conversation ' + saved if saved else ''}]", file=sys.stderr)
    return 0


def _checked_images(files: list[str]) -> list[str]:
    """The --image files, each checked to be a readable image before anything loads (UserError otherwise)."""
    from app.core.chat.store import check_image, image_bytes

    for name in files:
        check_image(*image_bytes(name))
    return [str(Path(name).resolve()) for name in files]


def _export_or_import(args, store) -> int:
    """--export ID [--format md|json] [--out FILE] / --import FILE."""
    from app.core.chat import export

    if args.import_file:
        cid = export.import_file(store, args.import_file)
        conv = store.get(cid)
        print(cid)
        print(f"Imported “{conv.title}” as conversation {cid} ({len(store.messages(cid))} messages).",
              file=sys.stderr)
        return 0
    text = export.export(store, args.export, args.format, args.out)
    if args.out:
        print(f"Wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text + "\n")
    return 0


def _reply(engine, turn, state, quiet: bool):
    """Run the turn's job here, streaming its text to stdout (unless `quiet`); Ctrl-C keeps what came."""
    from app.core.jobs import JobState, run_sync

    from app.core.chat.documents import ReplyRestarted

    def on_partial(partial) -> None:
        if isinstance(partial, ReplyRestarted) and not quiet and turn.text:
            sys.stdout.write("\n(not an answer; asking again with a stricter format)\n")
        text = turn.feed(partial)
        if text and not quiet:
            sys.stdout.write(text)
            sys.stdout.flush()

    return run_sync(turn.job(engine), JobState(on_progress=state.progress, on_partial=on_partial))
