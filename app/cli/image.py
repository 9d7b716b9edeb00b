"""`hearth image`: generate an image from the command line with the same engine as the Images tab."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.cli.common import guarded
from app.core.errors import UserError


def register(sub) -> None:
    p = sub.add_parser("image", help="generate an image (txt2img, img2img, inpaint, ControlNet)",
                       description="Generate an image with a Stable Diffusion model (SD 1.x, 2.x, SDXL).")
    p.add_argument("prompt", help="what to draw")
    p.add_argument("--model", required=True, metavar="PATH", help="a .safetensors checkpoint or a diffusers folder, "
                   "or CONNECTION/MODEL for an image model on another Hearth (hearth connections)")
    p.add_argument("--negative", default="", metavar="TEXT", help="what to avoid")
    p.add_argument("--steps", type=int, default=None, metavar="N")
    p.add_argument("--guidance", type=float, default=None, metavar="G", help="CFG scale")
    p.add_argument("--seed", type=int, default=-1, metavar="S",
                   help="0 to 2^64-1; -1 (default): random; the seed used is printed and stored in the PNG")
    p.add_argument("--size", default=None, metavar="WxH",
                   help="for example 512x512 (default: the model's; with --init or --control-image: that image's "
                        "aspect ratio at the model's native area, as --size auto)")
    p.add_argument("--scheduler", default=None, metavar="NAME", help="Euler, 'Euler a', 'DPM++ 2M Karras', DDIM, LCM…")
    p.add_argument("--init", default="", metavar="IMAGE", help="starting image (img2img; inpaint with --mask)")
    p.add_argument("--strength", type=float, default=0.75, metavar="X", help="how much to change the starting image")
    p.add_argument("--mask", default="", metavar="MASK", help="inpainting mask: white = repaint")
    p.add_argument("--control", choices=("canny", "depth", "scribble"), default="")
    p.add_argument("--control-image", default="", metavar="IMG")
    p.add_argument("--controlnet", default="", metavar="PATH")
    p.add_argument("--lora", action="append", default=[], metavar="PATH[:weight]", help="repeatable")
    p.add_argument("--batch", type=int, default=1, metavar="N", help="number of images (seeds S, S+1, …)")
    p.add_argument("--config", default="", metavar="DIR",
                   help="diffusers config folder for a single-file checkpoint (default: Hearth's own for its family)")
    p.add_argument("--allow-pickle", action="store_true",
                   help="open .ckpt/.bin/.pt files (read weights-only); refused by default")
    p.add_argument("--out", required=True, metavar="FILE.png")
    p.set_defaults(func=run)


def _lora(spec: str) -> tuple[str, float]:
    path, sep, weight = spec.rpartition(":")
    if sep and path and not Path(spec).exists():
        try:
            return path, float(weight)
        except ValueError:
            pass
    return spec, 1.0


def build_params(args: argparse.Namespace):
    from app.core.images import families
    from app.core.images.params import GenerationParams, defaults_for, parse_size

    mode = "inpaint" if args.mask else "img2img" if args.init else "txt2img"
    if args.mask and not args.init:
        raise UserError("--mask needs --init IMAGE (the image to inpaint).")
    family = "sd1"
    from app.core.connections import is_remote, resolve_model
    from app.core.settings import Settings

    reference = resolve_model(args.model, Settings.load())
    model = Path(reference) if is_remote(reference) else Path(args.model).expanduser()
    if model.exists() and (model.is_dir() or model.suffix.lower() == ".safetensors"):
        family = families.detect_family(model)
    defaults = defaults_for(family, model.name)
    if args.size:
        width, height = parse_size(args.size)
    elif args.init or args.control:
        width, height = 0, 0  # auto: keep the starting / control image's aspect ratio (the note says what was done)
    else:
        width, height = defaults.width, defaults.height
    return GenerationParams(
        prompt=args.prompt, negative_prompt=args.negative, model=reference if is_remote(reference) else str(model),
        seed=args.seed,
        steps=args.steps if args.steps is not None else defaults.steps,
        guidance=args.guidance if args.guidance is not None else defaults.guidance,
        scheduler=args.scheduler or defaults.scheduler, width=width, height=height, mode=mode,
        init_image=args.init, mask_image=args.mask, strength=args.strength, batch_count=args.batch,
        control=args.control, control_image=args.control_image, controlnet=args.controlnet,
        loras=[_lora(s) for s in args.lora], config=args.config)


@guarded(console=True)
def run(args: argparse.Namespace, state) -> int:
    from app.core.jobs import Job, JobState, run_sync
    from app.core.settings import Settings

    params = build_params(args)
    settings = Settings.load().images
    if args.allow_pickle:
        settings.allow_pickle = True
    from app.core.images.jobs import RESOURCE, ImageEngine, ImageRequest, Note

    def on_partial(partial) -> None:
        if isinstance(partial, Note):  # what Hearth decided for the user (size kept, long prompt chunked): stderr
            state.finish()
            print(f"note: {partial.text}", file=sys.stderr)

    engine = ImageEngine(settings)
    out = Path(args.out).expanduser()
    if out.suffix.lower() != ".png":
        raise UserError(f"--out must be a .png file (got {out.name}); Hearth stores parameters in PNG.")
    job = Job(engine.generate, ImageRequest(params, out=str(out), previews=False), name="image", resource=RESOURCE)
    results = run_sync(job, JobState(on_progress=state.progress, on_partial=on_partial))
    state.finish()
    for result in results:
        print(f"{result.path}\tseed={result.seed}")
    return 0
