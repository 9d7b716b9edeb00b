"""`hearth segment IMAGE --point X,Y[,1|0] ... [--box X0,Y0,X1,Y1] [--multimask] --out MASK.png ...`"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from app.cli.common import guarded
from app.core.errors import UserError


def register(sub) -> None:
    parser = sub.add_parser(
        "segment", help="cut an object out of a photo with Segment Anything",
        description="Segment the object at the given points / box. Coordinates are image pixels (x right, y down). "
                    "Embeddings are cached, so further prompts on the same photo skip the encoder.",
    )
    parser.add_argument("image", type=Path, help="the photo")
    parser.add_argument("--model", help="vit_b | vit_l | vit_h (an installed model of that architecture), an "
                                        "installed model's name, or a path to a SAM .pth checkpoint")
    parser.add_argument("--point", action="append", default=[], metavar="X,Y[,1|0]",
                        help="a point on the object (1, default) or on the background (0); repeatable")
    parser.add_argument("--box", metavar="X0,Y0,X1,Y1", help="a box around the object")
    parser.add_argument("--multimask", action="store_true",
                        help="ask SAM for three candidates and keep the one with the best predicted IoU")
    parser.add_argument("--out", type=Path, required=True, metavar="MASK.png", help="binary mask (white = object)")
    parser.add_argument("--cutout", type=Path, metavar="OUT.png", help="RGBA cut-out, transparent background")
    parser.add_argument("--crop", action="store_true", help="crop the cut-out to the object's bounding box")
    parser.add_argument("--coco", type=Path, metavar="OUT.json", help="COCO JSON with an RLE mask")
    parser.add_argument("--polygons", type=Path, metavar="OUT.json", help="labelme-compatible polygon JSON")
    parser.add_argument("--label", default="object", help="label for COCO / labelme (default: object)")
    parser.add_argument("--device", default=None, help="auto | cuda | mps | cpu")
    parser.add_argument("--no-cache", action="store_true", help="do not read or write the embedding cache")
    parser.set_defaults(func=run)


@guarded(console=True)
def run(args: argparse.Namespace, state) -> int:
    from app.core.segment import exports
    from app.core.segment import jobs as sj
    from app.core.segment.cache import EmbeddingCache
    from app.core.segment.predictor import Prompts, SegmentEngine
    from app.core.segment.images import load_image
    from app.core.settings import Settings

    if not args.point and not args.box:
        raise UserError("Give at least one --point X,Y or a --box X0,Y0,X1,Y1.")
    prompts = Prompts(tuple(sj.parse_point(p) for p in args.point), sj.parse_box(args.box) if args.box else None)
    for out in (args.out, args.cutout, args.coco, args.polygons):
        if out is not None and not out.resolve().parent.is_dir():
            raise UserError(f"Folder does not exist: {out.resolve().parent}")
    image = load_image(args.image)
    sj.check_inside(prompts, image.size)

    settings = Settings.load().segment
    cache = None if args.no_cache else EmbeddingCache(max_bytes=settings.cache_max_mb * 2**20)
    engine = SegmentEngine(cache, device=args.device or settings.device)
    model_path = sj.resolve_model(args.model)
    sam = engine.load(model_path, state)
    embedding = engine.encode(image, state)
    state.finish()
    pred = engine.predict(embedding, prompts, multimask=args.multimask)
    index = pred.best
    mask = pred.mask(index)
    iou = float(pred.ious[index])

    exports.save_mask_png(mask, args.out)
    print(f"mask     {args.out}  {image.size[0]}x{image.size[1]}  {int(mask.sum())} px  predicted IoU {iou:.3f}")
    if args.multimask:
        ious = "  ".join(f"{'*' if i == index else ' '}{i}: {v:.3f}" for i, v in enumerate(pred.ious))
        print(f"candidates  {ious}")
    if args.cutout:
        exports.save_cutout(image.rgb, mask, args.cutout, crop=args.crop)
        print(f"cutout   {args.cutout}")
    if args.coco:
        exports.save_coco([(args.label, mask, iou)], image.name, image.size, args.coco)
        print(f"coco     {args.coco}")
    if args.polygons:
        rel = os.path.relpath(image.path.resolve(), args.polygons.resolve().parent)
        exports.save_labelme([(args.label, mask)], rel, image.size, args.polygons)
        print(f"polygons {args.polygons}")
    source = "from cache" if embedding.from_cache else f"encoded on {sam.device}"
    print(f"model    {sam.path.name} ({sam.arch.name}), embedding {source}", file=sys.stderr)
    return 0
