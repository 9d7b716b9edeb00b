"""`hearth models ...`: list, search, download, import, remove, quantize (and fp16 conversion)."""

from __future__ import annotations

import json
import sys

from app.cli.common import guarded
from app.core.errors import UserError
from app.core.jobs import ConsoleState, JobState
from app.core.units import format_bytes


def register(sub) -> None:
    parser = sub.add_parser("models", help="list, search, download, import, remove and quantize models")
    msub = parser.add_subparsers(dest="models_command", metavar="ACTION", required=True)

    p = msub.add_parser("list", help="installed models (or the catalog with --catalog)")
    p.add_argument("--kind", help="only this kind (chat, embedding, reranker, diffusion, controlnet, vae, sam, ...)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--catalog", action="store_true", help="list the curated catalog with hardware fit instead")
    p.set_defaults(func=run_list)

    p = msub.add_parser("search", help="search Hugging Face for GGUF models")
    p.add_argument("query")
    p.add_argument("--files", action="store_true", help="also list each repository's GGUF files")
    p.add_argument("--limit", type=int, default=15)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run_search)

    p = msub.add_parser("download", help="download a catalog model (ID or ID:QUANT), a hub file or a URL")
    p.add_argument("ref", metavar="ID|URL")
    p.add_argument("--sha256", help="expected SHA-256 of a URL download")
    p.add_argument("--kind", help="kind of model, when it cannot be told from the file name")
    p.set_defaults(func=run_download)

    p = msub.add_parser("import", help="import a model file or folder from disk")
    p.add_argument("path")
    p.add_argument("--kind", help="kind of model, when it cannot be told from the file")
    p.add_argument("--link", action="store_true", help="link to the file instead of copying it")
    p.set_defaults(func=run_import)

    p = msub.add_parser("starter", help="download a starter set of models chosen for this computer")
    p.add_argument("--dry-run", action="store_true", help="say what would be downloaded, download nothing")
    p.add_argument("--json", action="store_true", help="print the set (and what was installed) as JSON")
    p.add_argument("--without", action="append", default=[], choices=["chat", "images", "segment"],
                   help="leave out the model for this tab (repeatable)")
    p.set_defaults(func=run_starter)

    p = msub.add_parser("remove", help="delete an installed model")
    p.add_argument("ref", metavar="ID")
    p.set_defaults(func=run_remove)

    p = msub.add_parser("quantize", help="quantize an F32/F16/BF16 GGUF with llama.cpp")
    p.add_argument("src", metavar="SRC.gguf")
    p.add_argument("--type", required=True, help="Q8_0, Q6_K, Q5_K_M, Q4_K_M, Q4_0, ...")
    p.add_argument("--out", help="output file (default: models/chat/<name>-<TYPE>.gguf)")
    p.set_defaults(func=run_quantize)

    p = msub.add_parser("fp16", help="convert a diffusion .safetensors file or diffusers folder to fp16")
    p.add_argument("src")
    p.add_argument("--out")
    p.set_defaults(func=run_fp16)


PAUSED = "Paused; run the same command again to resume."


def _job(fn, inputs):
    state = ConsoleState()
    try:
        return fn(inputs, state)
    finally:
        state.finish()


@guarded()
def run_list(args) -> int:
    from app.core.models import registry

    if args.kind and args.kind not in registry.KINDS:
        raise UserError(f"Unknown kind '{args.kind}'; use one of: {', '.join(registry.KINDS)}.")
    if args.catalog:
        return _list_catalog(args)
    models = registry.installed(args.kind)
    if args.json:
        print(json.dumps([{"id": m.id, "kind": m.kind, "name": m.name, "path": str(m.path), "size_bytes": m.size_bytes,
                           "format": m.format, "quantization": m.quantization, "source": m.source,
                           "problem": m.problem} for m in models], indent=1))
        return 0
    if not models:
        print("No models installed. `hearth models list --catalog` shows what you can download.", file=sys.stderr)
        return 0
    for m in models:
        print(f"{m.id:<52} {m.format:<22} {m.quantization or '':<8} {format_bytes(m.size_bytes):>10}  {m.source_text}")
        if m.problem:  # a truncated or damaged file placed in the folder by hand (or damaged since)
            print(f"    ! broken: {m.problem}")
    return 0


def _list_catalog(args) -> int:
    from app.core import devices
    from app.core.models import catalog, fit

    mem = fit.Memory.from_device(devices.detect())
    rows = []
    for entry in catalog.entries(args.kind):
        best = fit.recommend(entry, mem)
        for v in entry.files:
            rows.append({"id": f"{entry.id}:{v.quantization}" if entry.kind == "chat" else entry.id,
                         "name": entry.name, "kind": entry.kind, "quantization": v.quantization,
                         "size_bytes": entry.download_bytes(v), "memory_bytes": entry.memory_bytes(v),
                         "vision": entry.vision,
                         "fit": fit.label(entry.memory_bytes(v), mem), "recommended": v is best,
                         "license": entry.license, "verified": entry.verified, "source": entry.source})
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"Hardware: {mem.describe}", file=sys.stderr)
    for r in rows:
        star = "*" if r["recommended"] else " "
        size, need = format_bytes(r["size_bytes"]), format_bytes(r["memory_bytes"])
        print(f"{star} {r['id']:<44} {r['kind']:<11} {size:>9}  needs {need:>9}  "
              f"{r['fit']:<9} {r['license']}{'' if r['verified'] else '  (unverified)'}")
    return 0


@guarded()
def run_search(args) -> int:
    from app.core.models import jobs

    state = JobState()
    repos = jobs.search_hub(args.query, state, limit=args.limit)
    if args.files:
        for r in repos:
            r.files = jobs.list_hub_files(r.id, state)
    if args.json:
        print(json.dumps([{"id": r.id, "downloads": r.downloads, "likes": r.likes,
                           "files": [{"path": f.path, "size_bytes": f.size_bytes, "quantization": f.quantization}
                                     for f in r.files or []]} for r in repos], indent=1))
        return 0
    if not repos:
        print(f"No GGUF repositories match '{args.query}'.", file=sys.stderr)
    for r in repos:
        print(f"{r.id:<60} {r.downloads:>10} downloads")
        for f in r.files or []:
            print(f"    {r.id}/{f.path:<50} {f.quantization or '':<8} {format_bytes(f.size_bytes):>10}")
    return 0


@guarded(PAUSED)
def run_download(args) -> int:
    from app.core.models import downloads, jobs

    spec = downloads.resolve(args.ref, kind=args.kind, sha256=args.sha256)
    previous = downloads.read_state(spec.id)
    if previous:
        print(f"Resuming {spec.title} ({previous['status']} earlier)", file=sys.stderr)
    try:
        model = _job(jobs.download, spec)
    except UserError as exc:
        if "resume to continue" not in str(exc):
            raise
        # the connection could not be healed: the part is kept, and the same command continues it
        raise UserError(f"{exc} Run the same command again to resume.") from None
    print(f"{model.id}\t{model.path}\t{model.size_bytes}")
    return 0


@guarded(PAUSED)
def run_starter(args) -> int:
    """Choose the starter set for this computer, say it, and (unless --dry-run) download it as one job."""
    from app.core.models import hub, jobs, starter

    chosen = starter.choose(starter.Machine.detect()).without(args.without)
    speed = starter.remembered_speed()
    data = {**chosen.to_json(), "estimate": chosen.estimate(speed)}
    if not args.json:
        _print_starter(chosen, speed)
    if args.dry_run or not chosen.to_download:
        if args.json:
            print(json.dumps(data, indent=1))
        return 0
    try:
        hub.probe()  # offline: say so now, before anything starts
    except hub.NoNetwork as exc:
        raise UserError(f"{exc} From the command line: hearth models import PATH.") from exc
    models = _job(jobs.download_starter, chosen)
    if args.json:
        print(json.dumps({**data, "installed": [m.id for m in models]}, indent=1))
    else:
        for model in models:
            print(f"{model.id}\t{model.path}\t{model.size_bytes}")
    return 0


def _print_starter(chosen, speed) -> None:
    out = sys.stderr
    print(f"This computer: {chosen.machine.describe}", file=out)
    for pick in chosen.picks:
        state = "built in" if pick.entry is None else "installed" if pick.installed else format_bytes(pick.size_bytes)
        print(f"  {pick.role:<9} {pick.name:<44} {state:>10}  {pick.reason}", file=out)
    for note in chosen.notes:
        print(f"  note: {note}", file=out)
    print(f"To download: {chosen.estimate(speed)}", file=out)


@guarded()
def run_import(args) -> int:
    from app.core.models import jobs

    model = _job(jobs.import_model, jobs.ImportRequest(args.path, args.kind, args.link))
    print(f"{model.id}\t{model.path}\t{model.size_bytes}")
    return 0


@guarded()
def run_remove(args) -> int:
    from app.core.models import registry

    model = registry.remove(args.ref)
    print(f"removed {model.id}")
    return 0


@guarded("Cancelled; nothing was written.")
def run_quantize(args) -> int:
    from app.core.models import jobs

    model = _job(jobs.quantize, {"src": args.src, "type": args.type, "out": args.out})
    print(f"{model.id}\t{model.path}\t{model.size_bytes}")
    return 0


@guarded()
def run_fp16(args) -> int:
    """Convert to fp16; inside the models folder the copy is recorded as converted from its source (as the GUI
    does)."""
    from app.core.models import jobs

    print(_job(jobs.convert_fp16, {"src": args.src, "out": args.out}))
    return 0
