"""`hearth segment IMAGE --point X,Y[,1|0] ... [--box X0,Y0,X1,Y1] [--multimask] --out MASK.png ...`
and `hearth segment IMAGE --everything --coco OUT.json ...` (every object, SAM's automatic mask generator)."""

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
    parser.add_argument("--model", help="an installed model's name (sam2.1-hiera-tiny, edgetam, ...), an architecture "
                                        "(vit_b | vit_l | vit_h | EdgeTAM | \"SAM 2 hiera tiny\", read from each "
                                        "installed model), or a path to a SAM .pth checkpoint or a Hugging Face model "
                                        "folder; default: the installed model with the fastest encoder")
    parser.add_argument("--point", action="append", default=[], metavar="X,Y[,1|0]",
                        help="a point on the object (1, default) or on the background (0); repeatable")
    parser.add_argument("--box", metavar="X0,Y0,X1,Y1", help="a box around the object")
    parser.add_argument("--multimask", action="store_true",
                        help="ask SAM for three candidates and keep the one with the best predicted IoU")
    parser.add_argument("--out", type=Path, metavar="MASK.png",
                        help="binary mask (white = object; with --everything: every object)")
    parser.add_argument("--cutout", type=Path, metavar="OUT.png", help="RGBA cut-out, transparent background")
    parser.add_argument("--crop", action="store_true", help="crop the cut-out to the object's bounding box")
    parser.add_argument("--coco", type=Path, metavar="OUT.json", help="COCO JSON with an RLE mask (per object)")
    parser.add_argument("--polygons", type=Path, metavar="OUT.json", help="labelme-compatible polygon JSON")
    parser.add_argument("--label", default="object", help="label for COCO / labelme (default: object)")
    parser.add_argument("--device", default=None, help="auto | cuda | mps | cpu")
    every = parser.add_argument_group("segment everything")
    every.add_argument("--everything", action="store_true",
                       help="find every object (a grid of points, IoU and stability thresholds, NMS) instead of "
                            "--point/--box; write them with --coco and/or --polygons")
    every.add_argument("--points-per-side", type=int, metavar="N", help="the point grid is N x N (default 32)")
    every.add_argument("--iou-thresh", type=float, metavar="T", help="keep masks with predicted IoU above T (0.88)")
    every.add_argument("--stability-thresh", type=float, metavar="T", help="... and stability score >= T (0.95)")
    every.add_argument("--nms-thresh", type=float, metavar="T", help="box IoU above which two masks are one (0.7)")
    every.add_argument("--min-area", type=int, metavar="PX", help="drop objects smaller than PX pixels (100)")
    parser.add_argument("--no-cache", action="store_true", help="do not read or write the embedding cache")
    parser.set_defaults(func=run)


@guarded(console=True)
def run(args: argparse.Namespace, state) -> int:
    from app.core.segment import exports
    from app.core.segment import jobs as sj
    from app.core.segment.predictor import Prompts
    from app.core.segment.images import load_image
    from app.core.settings import Settings

    if args.everything:
        return _everything(args, state)
    if not args.point and not args.box:
        raise UserError("Give at least one --point X,Y or a --box X0,Y0,X1,Y1 (or --everything).")
    if args.out is None:
        raise UserError("Say where to write the mask: --out MASK.png.")
    prompts = Prompts(tuple(sj.parse_point(p) for p in args.point), sj.parse_box(args.box) if args.box else None)
    _check_folders(args.out, args.cutout, args.coco, args.polygons)
    image = load_image(args.image)
    sj.check_inside(prompts, image.size)
    engine, embedding = _encode(args, Settings.load().segment, image, state)
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
    _print_model(embedding)
    return 0


def _check_folders(*outs) -> None:
    for out in outs:
        if out is not None and not out.resolve().parent.is_dir():
            raise UserError(f"Folder does not exist: {out.resolve().parent}")


def _encode(args, settings, image, state):
    """Load the model (--model, or the fastest installed) and encode `image` (from the cache when it has it)."""
    from app.core.segment import jobs as sj
    from app.core.segment.cache import EmbeddingCache
    from app.core.segment.predictor import SegmentEngine

    cache = None if args.no_cache else EmbeddingCache(max_bytes=settings.cache_max_mb * 2**20)
    engine = SegmentEngine(cache, device=args.device or settings.device)
    engine.load(sj.resolve_model(args.model), state)
    return engine, engine.encode(image, state)


def _print_model(embedding) -> None:
    sam = embedding.sam
    source = "from cache" if embedding.from_cache else f"encoded on {sam.device}"
    print(f"model    {sam.path.name} ({sam.arch.name}), embedding {source}", file=sys.stderr)


def _everything(args, state) -> int:
    import time

    import numpy as np

    from app.core.segment import exports
    from app.core.segment.everything import EverythingParams, segment_everything
    from app.core.segment.images import load_image
    from app.core.settings import Settings

    if args.point or args.box:
        raise UserError("--everything finds every object by itself: leave out --point and --box.")
    if not (args.coco or args.polygons or args.out):
        raise UserError("Say where to write the objects: --coco OUT.json, --polygons OUT.json and/or --out MASK.png.")
    _check_folders(args.out, args.coco, args.polygons)
    settings = Settings.load().segment
    params = EverythingParams(
        points_per_side=_positive(args.points_per_side, settings.everything_points, "--points-per-side"),
        pred_iou_thresh=_fraction(args.iou_thresh, settings.everything_iou, "--iou-thresh"),
        stability_score_thresh=_fraction(args.stability_thresh, settings.everything_stability, "--stability-thresh"),
        box_nms_thresh=_fraction(args.nms_thresh, EverythingParams.box_nms_thresh, "--nms-thresh"),
        min_area=max(0, args.min_area if args.min_area is not None else settings.everything_min_area))
    image = load_image(args.image)
    engine, embedding = _encode(args, settings, image, state)
    start = time.perf_counter()
    found = segment_everything(engine, embedding, params, state)
    seconds = time.perf_counter() - start
    state.finish()
    w, h = image.size
    print(f"objects  {len(found)} in {seconds:.1f} s ({params.points_per_side}x{params.points_per_side} points, "
          f"IoU > {params.pred_iou_thresh:g}, stability >= {params.stability_score_thresh:g}, "
          f"at least {params.min_area} px)")

    def full(label=args.label):  # one full-size mask at a time: 100 objects of a 24 MP photo do not fit at once
        for obj in found:
            yield label, obj.prediction.mask(0), float(obj.prediction.ious[0])

    if args.coco:
        exports.save_coco(full(), image.name, (w, h), args.coco)
        print(f"coco     {args.coco}")
    if args.polygons:
        rel = os.path.relpath(image.path.resolve(), args.polygons.resolve().parent)
        exports.save_labelme(((l, m) for l, m, _ in full()), rel, (w, h), args.polygons)
        print(f"polygons {args.polygons}")
    if args.out:
        union = np.zeros((h, w), dtype=bool)
        for _, mask, _ in full():
            union |= mask
        exports.save_mask_png(union, args.out)
        print(f"mask     {args.out}  {int(union.sum())} px in {len(found)} objects")
    _print_model(embedding)
    return 0


def _positive(value, default, flag: str) -> int:
    value = default if value is None else value
    if value < 1 or value > 256:
        raise UserError(f"{flag} must be between 1 and 256.")
    return int(value)


def _fraction(value, default, flag: str) -> float:
    value = default if value is None else value
    if not 0.0 <= value <= 1.0:
        raise UserError(f"{flag} must be between 0 and 1.")
    return float(value)
