"""`hearth serve`: the OpenAI-compatible HTTP API, headless (the app's Server switch runs the same server)."""

from __future__ import annotations

import sys

from app.cli.common import guarded


def register(sub) -> None:
    p = sub.add_parser("serve", help="serve installed models over an OpenAI-compatible HTTP API (loopback + key)",
                       description="Serve installed chat, embedding and image models over an OpenAI-compatible "
                                   "HTTP API. Listens on 127.0.0.1 and needs the API key from settings (made on "
                                   "first start) unless told otherwise.")
    p.add_argument("--port", type=int, default=None, metavar="N", help="port (default: settings, 8765)")
    p.add_argument("--host", default=None, metavar="H",
                   help="address to listen on (default 127.0.0.1); another needs --allow-network")
    p.add_argument("--allow-network", action="store_true",
                   help="allow --host to be reachable from other computers (they still need the key)")
    p.add_argument("--api-key", default=None, metavar="KEY", help="bearer key for this run (default: settings')")
    p.add_argument("--cors-origin", action="append", default=None, metavar="URL",
                   help="let browser pages from this origin call the API (repeatable; default: settings', none)")
    p.add_argument("--load", default=None, metavar="MODEL", help="load this installed chat model before serving")
    p.add_argument("--quiet", action="store_true", help="do not print a line per request")
    p.set_defaults(func=run)


@guarded(cancelled="stopped")
def run(args) -> int:
    from app.core.engines import Engines
    from app.core.errors import UserError
    from app.core.scheduler import Scheduler
    from app.core.server.runtime import Runtime
    from app.core.server.serve import ServerThread, check_host, ensure_api_key, is_loopback
    from app.core.settings import Settings

    settings = Settings.load()
    if ensure_api_key(settings):
        settings.save()
    server_settings = settings.server
    host = args.host or server_settings.host
    allowed = args.allow_network or (args.host is None and not is_loopback(server_settings.host))
    warning = check_host(host, allowed)
    if warning:
        print(warning, file=sys.stderr)
    key = args.api_key if args.api_key is not None else server_settings.api_key
    if not key.strip():
        raise UserError("The API key cannot be empty.")
    port = args.port if args.port is not None else server_settings.port
    scheduler = Scheduler()
    runtime = Runtime(scheduler, Engines(settings), settings)

    def on_request(method: str, path: str, status: int, seconds: float) -> None:
        if not args.quiet:
            print(f"{method} {path} {status} {seconds:.2f} s", file=sys.stderr, flush=True)

    server = ServerThread(runtime, host, port, key, args.cors_origin or server_settings.cors_origins,
                          server_settings.max_body_mb, on_request)
    try:
        if args.load:
            _preload(runtime, args.load)
        url = server.start()
        print(f"Hearth serves the OpenAI-compatible API on {url}", flush=True)
        if args.api_key is None:
            print(f"API key: {key}  (kept in settings; Settings → Server in the app can make a new one)", flush=True)
        print("Ctrl-C stops it.", file=sys.stderr, flush=True)
        server.wait()
    finally:
        server.stop()
        scheduler.shutdown(3.0)
        runtime.engines.close(3.0)
    return 0


def _preload(runtime, name: str) -> None:
    """Load the installed chat model `name` now (the first request then finds it loaded)."""
    from app.core.chat.jobs import LoadRequest
    from app.core.errors import UserError
    from app.core.jobs import ConsoleState, run_sync
    from app.core.server import models
    from app.core.server.errors import ApiError

    try:
        model = models.find(runtime, name, "chat")
    except ApiError as exc:
        raise UserError(exc.message) from None
    state = ConsoleState()
    engine = runtime.engines.chat
    run_sync(engine.load_job(LoadRequest.from_settings(model.path, runtime.settings.chat)), state)
    state.finish()
