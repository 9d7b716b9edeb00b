"""`hearth connections`: the other OpenAI-compatible servers whose models Hearth can use (app/core/connections.py)."""

from __future__ import annotations

from app.cli.common import guarded


def register(sub) -> None:
    p = sub.add_parser("connections", help="servers whose models Hearth can use (llama-server, vLLM, Ollama, "
                                           "another Hearth…)")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    add = verbs.add_parser("add", help="add (or replace) a connection")
    add.add_argument("name", help="a short name, used as NAME/MODEL (letters, digits, . _ -)")
    add.add_argument("url", help="the server's OpenAI base URL, e.g. http://gpu-box:8765/v1")
    add.add_argument("--api-key", default="", metavar="KEY", help="its bearer key, if it needs one")
    add.add_argument("--timeout", type=float, default=None, metavar="S",
                     help="the longest one request may take, seconds (default 600)")
    add.add_argument("--no-check", action="store_true", help="do not ask the server for its models first")
    listing = verbs.add_parser("list", help="list connections (with --models: ask each for its models)")
    listing.add_argument("--models", action="store_true")
    remove = verbs.add_parser("remove", help="remove a connection")
    remove.add_argument("name")
    p.set_defaults(func=run)


@guarded()
def run(args) -> int:
    from app.core import connections
    from app.core.errors import UserError
    from app.core.settings import Settings

    settings = Settings.load()
    if args.verb == "add":
        timeout = args.timeout if args.timeout is not None else connections.DEFAULT_TIMEOUT_S
        conn = connections.add(settings, args.name, args.url, args.api_key, timeout)
        if not args.no_check:
            models = conn.models()  # UserError: down, wrong key…; nothing is saved then
            print(f"{conn.name}: {conn.url} offers {len(models)} model{'s' if len(models) != 1 else ''}: "
                  + ", ".join(m["id"] for m in models))
        settings.save()
        print(f"added {conn.name} ({conn.url}); use its models as {conn.name}/MODEL")
        return 0
    if args.verb == "remove":
        conn = connections.remove(settings, args.name)
        settings.save()
        print(f"removed {conn.name} ({conn.url})")
        return 0
    found = connections.all_connections(settings)
    if not found:
        print("No connections. Add one: hearth connections add NAME URL [--api-key KEY]")
    failed = False
    for conn in found:
        key = "key set" if conn.api_key else "no key"
        print(f"{conn.name}\t{conn.url}\t({key}, timeout {conn.timeout_s:g} s)")
        if args.models:
            try:
                for m in conn.models():
                    print(f"    {conn.name}/{m['id']}\t{m['kind']}")
            except UserError as exc:
                failed = True
                print(f"    error: {exc}")
    return 1 if failed else 0
