"""`hearth clip search FOLDER "query"` and `hearth clip label IMAGE --labels "cat,dog"`: CLIP from a local folder."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(sub) -> None:
    parser = sub.add_parser("clip", help="find photos by describing them; label a photo (CLIP)",
                            description="CLIP image search and zero-shot labels. Image embeddings are cached by "
                                        "content, so only new or changed photos are read again.")
    csub = parser.add_subparsers(dest="clip_command", metavar="ACTION", required=True)

    p = csub.add_parser("search", help="rank a folder's images by a text description (or an example image)")
    p.add_argument("folder", type=Path, help="folder of photos (searched with its subfolders)")
    p.add_argument("query", nargs="?", help='what to look for, e.g. "a dog on a beach"')
    p.add_argument("--like", type=Path, metavar="IMAGE", help="rank by similarity to this image instead of a query")
    p.add_argument("--k", type=int, default=10, help="how many results (default 10)")
    _common(p)
    p.set_defaults(func=run_search)

    p = csub.add_parser("label", help="the most likely labels for an image, from a list")
    p.add_argument("image", type=Path)
    p.add_argument("--labels", help='comma-separated, e.g. "cat,dog,boat" (default: your list in '
                                    '<data>/clip/labels.txt)')
    _common(p)
    p.set_defaults(func=run_label)


def _common(p) -> None:
    p.add_argument("--model", help="CLIP folder or installed model name (default: the first installed CLIP)")
    p.add_argument("--device", default="auto", help="auto | cuda | mps | cpu")
    p.add_argument("--json", action="store_true", help="one JSON object per line")


def run_search(args: argparse.Namespace) -> int:
    from app.cli.common import run_guarded
    from app.core.clip.jobs import SearchInputs, search_job
    from app.core.jobs import ConsoleState

    state = ConsoleState(quiet=args.json)

    def go() -> int:
        result = search_job(SearchInputs(args.folder, args.query, args.like, args.k, args.model, args.device), state)
        state.finish()
        for hit in result.hits:
            print(json.dumps(hit.to_dict()) if args.json else f"{hit.score:.4f}  {hit.file}")
        if result.skipped:  # on stderr: --json's stdout stays one hit per line
            names = ", ".join(p.name for p in list(result.skipped)[:5])
            print(f"skipped {len(result.skipped)} unreadable file(s): {names}", file=sys.stderr)
        return 0

    return run_guarded(go, state)


def run_label(args: argparse.Namespace) -> int:
    from app.cli.common import run_guarded
    from app.core.clip.jobs import LabelInputs, label_job
    from app.core.clip.search import parse_labels
    from app.core.jobs import ConsoleState

    state = ConsoleState(quiet=args.json)

    def go() -> int:
        labels = parse_labels(args.labels) if args.labels is not None else None
        ranked = label_job(LabelInputs(args.image, labels, args.model, args.device), state)
        state.finish()
        for label, prob in ranked:
            print(json.dumps({"label": label, "probability": round(prob, 6)}) if args.json
                  else f"{prob:.4f}  {label}")
        return 0

    return run_guarded(go, state)
