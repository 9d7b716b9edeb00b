"""Benchmark: raw segment_anything (SamPredictor) vs Hearth's segmentation path, side by side in one process.

A vit_b-architecture SAM with random weights (timing does not depend on the weights), saved as a .pth and loaded
through Hearth's real loader; a 1024x768 photo. Measures:
  - encoder: SamPredictor.set_image vs Hearth's encode (which also writes the disk cache), medians
  - click -> mask: SamPredictor.predict (3 full-size masks) vs Hearth's predict + best mask at screen size
    + overlay composition, p50 / p95
  - cached reopen: a new engine (as after a restart) opening the same file: decode + hash + cache read, to
    click-ready, and how many times the encoder ran
Last line: one JSON object.

    python tests/benchmarks/segment.py [--encodes 3] [--clicks 30]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def pct(values, q):
    """Percentile with linear interpolation between ranks (numpy's default)."""
    import numpy as np

    return float(np.percentile(values, q * 100))


class _NoCancel:
    def check(self) -> None:
        pass


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--encodes", type=int, default=3)
    parser.add_argument("--clicks", type=int, default=30)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="hearth-bench-segment-"))
    os.environ["HEARTH_HOME"] = str(work / "home")

    import numpy as np
    import torch
    from PIL import Image
    from segment_anything import SamPredictor, sam_model_registry

    from app.core.segment.cache import EmbeddingCache
    from app.core.segment.predictor import Prompts, SegmentEngine
    from app.core.segment.images import display_copy, load_image
    from app.core.segment.model import limit_cpu_threads
    from app.core.segment.jobs import DecodeRequest, decode_job
    from app.core.segment.overlay import compose_overlay
    from tests.core.segment.tiny_sam import photo

    limit_cpu_threads()
    torch.manual_seed(0)
    raw_model = sam_model_registry["vit_b"]().eval()
    ckpt = work / "renamed-checkpoint.pth"
    torch.save(raw_model.state_dict(), ckpt)
    image_path = work / "photo.png"
    Image.fromarray(photo(1024, 768)).save(image_path)

    cache_dir = work / "cache"
    engine = SegmentEngine(EmbeddingCache(cache_dir), device="cpu")
    sam = engine.load(ckpt)
    raw_model = raw_model.to(sam.device)
    print(f"model: {sam.arch.name} on {sam.device}, torch threads {torch.get_num_threads()}", file=sys.stderr)
    image = load_image(image_path)
    rgb = image.rgb

    # ---- encoder --------------------------------------------------------------------------------------------
    raw = SamPredictor(raw_model)
    raw.set_image(rgb)  # warm-up both paths once
    engine.encode(image)
    raw_enc, hearth_enc = [], []
    for n in range(args.encodes):
        t = time.perf_counter()
        raw.set_image(rgb)
        raw_enc.append(time.perf_counter() - t)
        engine.cache.clear()
        engine._memory.clear()
        t = time.perf_counter()
        emb = engine.encode(image)
        hearth_enc.append(time.perf_counter() - t)
        print(f"  encode {n + 1}: raw {raw_enc[-1]:.2f} s  hearth {hearth_enc[-1]:.2f} s", file=sys.stderr)
    encode_ratio = statistics.median(hearth_enc) / statistics.median(raw_enc)

    # ---- clicks ---------------------------------------------------------------------------------------------
    rng = np.random.default_rng(0)
    points = [(float(rng.uniform(0, 1023)), float(rng.uniform(0, 767))) for _ in range(args.clicks)]
    display, _ = display_copy(rgb, 2560)
    size = (display.shape[1], display.shape[0])
    raw_click, hearth_click = [], []
    for x, y in points:
        t = time.perf_counter()
        raw.predict(np.array([[x, y]]), np.array([1]), multimask_output=True)
        raw_click.append(time.perf_counter() - t)
        t = time.perf_counter()
        # the GUI's path: the decode job (predict, best candidate at screen size, thumbnails), then the overlay
        req = DecodeRequest(engine, emb, 1, Prompts(((x, y, 1),)), None, True, size, (112, 84))
        pred = decode_job(req, _NoCancel()).prediction
        compose_overlay([(pred.mask(pred.best, size), (30, 144, 255), True)], size)
        hearth_click.append(time.perf_counter() - t)

    # ---- cached reopen after a restart ----------------------------------------------------------------------
    reopen = []
    encodes = 0
    for _ in range(5):
        fresh = SegmentEngine(EmbeddingCache(cache_dir), device="cpu")
        fresh.sam = sam  # the model is loaded; time only opening the image
        t = time.perf_counter()
        img = load_image(image_path)
        display_copy(img.rgb, 2560)
        fresh.encode(img)
        reopen.append(time.perf_counter() - t)
        encodes += fresh.encoder_runs

    result = {
        "encode_ratio": round(encode_ratio, 3),
        "raw_encode_s": round(statistics.median(raw_enc), 3),
        "hearth_encode_s": round(statistics.median(hearth_enc), 3),
        "raw_click_p50_ms": round(pct(raw_click, 0.5) * 1000, 1),
        "raw_click_p95_ms": round(pct(raw_click, 0.95) * 1000, 1),
        "hearth_click_p50_ms": round(pct(hearth_click, 0.5) * 1000, 1),
        "hearth_click_p95_ms": round(pct(hearth_click, 0.95) * 1000, 1),
        "click_ratio": round(pct(hearth_click, 0.5) / pct(raw_click, 0.5), 3),
        "cached_reopen_ms": round(statistics.median(reopen) * 1000, 1),
        "cached_reopen_encodes": encodes,
    }
    print(f"encoder   raw {result['raw_encode_s']:.2f} s   hearth {result['hearth_encode_s']:.2f} s   "
          f"ratio {result['encode_ratio']:.3f} (goal <= 1.05)")
    print(f"click     raw p50 {result['raw_click_p50_ms']} ms p95 {result['raw_click_p95_ms']} ms   "
          f"hearth p50 {result['hearth_click_p50_ms']} ms p95 {result['hearth_click_p95_ms']} ms   "
          f"ratio {result['click_ratio']:.3f} (goal <= 1.2)")
    print(f"reopen    {result['cached_reopen_ms']} ms to click-ready, encoder runs {encodes} (goal 0, < 300 ms)")
    import shutil

    shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
