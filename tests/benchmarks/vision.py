"""Benchmark: Hearth's vision paths vs the raw libraries, side by side in one process, same files.

1. CLIP indexing, images/s: a CLIP with ViT-B/32's architecture (random weights: timing does not depend on them),
   JPEG photos of `--size`. Raw: PIL open + convert, CLIPProcessor and CLIPModel.get_image_features in batches of
   32 (the same model object Hearth loaded). Hearth: index_images with an empty cache (hash, decode in a worker
   thread, embed, write SQLite), and again with the cache warm. Goal: Hearth cold >= 0.9x raw.
2. Vision chat, image encode + first token: a small random VLM written with tests/fixtures (LLaVA-style mmproj,
   224x224 input, 14x14 patches -> 256 image tokens; llama LM 512 wide). Raw: llama-cpp-python's MTMDChatHandler
   on a Llama, the photo's bytes as a data URL, streamed create_chat_completion until the first piece of text.
   Hearth: VisionChat.reply (prepares the photo: EXIF, RGB, downscale, PNG) until the first piece. Two photos:
   one of `--size` (Hearth downscales it first) and one already 224 px wide (Hearth's overhead alone).
   Goal: Hearth / raw <= 1.1.
Runs alternate raw / Hearth; medians are reported, of wall time and of this process's CPU time (the *_cpu ratios:
steadier than wall time when other work shares the cores). Last line: one JSON object.

    python tests/benchmarks/vision.py [--images 64] [--size 1024x768] [--runs 3] [--chat-runs 5] [--threads 1]
                                      [--skip-clip]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def photo(width: int, height: int, seed: int):
    """A photo-like image: smooth gradients plus noise (JPEG work comparable to a real photo)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([x / width, y / height, (x + y) / (width + height)], axis=2) * 255 * rng.uniform(0.3, 1, 3)
    noise = rng.normal(0, 12, (height, width, 3))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def bench_clip(work: Path, n_images: int, size: tuple[int, int], runs: int) -> dict:
    import torch
    from PIL import Image
    from transformers import CLIPConfig, CLIPModel

    from app.core.clip.index import EmbeddingStore, index_images, list_images
    from app.core.clip.model import ClipEncoder
    from tests.fixtures.tiny_clip import save_clip

    folder = work / "photos"
    folder.mkdir()
    for i in range(n_images):
        Image.fromarray(photo(*size, seed=i)).save(folder / f"photo-{i:03d}.jpg", quality=90)
    torch.manual_seed(0)
    model_dir = save_clip(CLIPModel(CLIPConfig()).eval(), work / "clip-vit-b32-random")
    encoder = ClipEncoder.load(model_dir, "auto")
    print(f"CLIP ViT-B/32 (random) on {encoder.device}, torch threads {torch.get_num_threads()}, {n_images} photos "
          f"{size[0]}x{size[1]}", file=sys.stderr)
    files = list_images(folder)
    model, processor = encoder.model, encoder.processor

    def raw() -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        for i in range(0, len(files), 32):
            images = []
            for f in files[i:i + 32]:
                with Image.open(f) as im:
                    images.append(im.convert("RGB"))
            pixels = processor(images=images, return_tensors="pt")["pixel_values"].to(encoder.device, model.dtype)
            with torch.inference_mode():
                out = model.get_image_features(pixel_values=pixels)
            feats = out if hasattr(out, "detach") else out.pooler_output
            feats.float().cpu().numpy()
        return len(files) / (time.perf_counter() - wall), len(files) / (time.process_time() - cpu)

    def hearth(run: int) -> tuple[float, float, float]:
        store = EmbeddingStore(work / f"cache-{run}.sqlite3")
        wall, cpu = time.perf_counter(), time.process_time()
        result = index_images(list_images(folder), encoder, store)
        n = len(result.files)
        cold, cold_cpu = n / (time.perf_counter() - wall), n / (time.process_time() - cpu)
        wall = time.perf_counter()
        again = index_images(list_images(folder), encoder, store)
        warm = len(again.files) / (time.perf_counter() - wall)
        store.close()
        assert result.embedded == n_images and again.embedded == 0
        return cold, cold_cpu, warm

    raw()  # warm-up (first batch allocations)
    raws, raws_cpu, colds, colds_cpu, warms = [], [], [], [], []
    for run in range(runs):
        r, rc = raw()
        cold, cold_cpu, warm = hearth(run)
        raws.append(r)
        raws_cpu.append(rc)
        colds.append(cold)
        colds_cpu.append(cold_cpu)
        warms.append(warm)
        print(f"  run {run}: raw {r:.2f} img/s ({rc:.2f} per CPU-s), Hearth {cold:.2f} img/s ({cold_cpu:.2f} per "
              f"CPU-s), warm cache {warm:.0f} img/s", file=sys.stderr)
    med = statistics.median
    return {"clip_raw_images_per_s": round(med(raws), 2), "clip_hearth_images_per_s": round(med(colds), 2),
            "clip_ratio": round(med(colds) / med(raws), 3),
            "clip_ratio_cpu": round(med(colds_cpu) / med(raws_cpu), 3),
            "clip_hearth_warm_images_per_s": round(med(warms), 1), "clip_device": encoder.device}


def bench_chat(work: Path, size: tuple[int, int], runs: int, threads: int) -> dict:
    from llama_cpp import Llama
    from llama_cpp.llama_chat_format import MTMDChatHandler
    from PIL import Image

    from app.core.devices import physical_cores
    from app.core.jobs import JobState
    from app.core.vision.chat import VisionChat, route_mtmd_logs
    from tests.fixtures.tiny_gguf import write_tiny_llama
    from tests.fixtures.tiny_vlm import CHAT_TEMPLATE, write_tiny_mmproj

    threads = threads or max(1, physical_cores())
    lm = write_tiny_llama(work / "small-vlm-F32.gguf", n_embd=512, n_layer=4, n_ff=1536, n_head=8, n_ctx=1024,
                          chat_template=CHAT_TEMPLATE)
    mmproj = write_tiny_mmproj(work / "mmproj-small-vlm-F32.gguf", n_embd_text=512, n_embd=256, n_head=4,
                               n_ff=1024, n_layer=4, image_size=224, patch_size=14, n_mm_hidden=512)
    question = "What is in this picture?"

    route_mtmd_logs()  # both sides: libmtmd's log lines to Python logging, not the terminal
    hearth = VisionChat.load(lm, n_ctx=1024, n_threads=threads)
    raw_llm = Llama(model_path=str(lm), chat_handler=MTMDChatHandler(clip_model_path=str(mmproj), verbose=False),
                    n_ctx=1024, n_threads=threads, n_threads_batch=threads,
                    flash_attn=hearth.model.load_info.flash_attn, verbose=False)

    def raw(image: Path) -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        url = "data:image/jpeg;base64," + base64.b64encode(image.read_bytes()).decode()
        messages = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}},
                                                 {"type": "text", "text": question}]}]
        stream = raw_llm.create_chat_completion(messages=messages, max_tokens=8, temperature=0, seed=1,
                                                stream=True)
        for chunk in stream:
            if chunk["choices"][0].get("delta", {}).get("content"):
                break
        done = time.perf_counter(), time.process_time()
        stream.close()
        return done[0] - wall, done[1] - cpu

    def ours(image: Path) -> tuple[float, float]:
        marks = []
        state = JobState(on_partial=lambda _piece: marks or marks.append(time.process_time()))
        cpu = time.process_time()
        result = hearth.reply([{"role": "user", "content": question, "images": [image]}], max_tokens=8,
                              temperature=0, seed=1, state=state)
        return result.ttft_s, (marks[0] if marks else time.process_time()) - cpu

    figures = {"vision_image_tokens": (224 // 14) ** 2}
    # a camera-size photo (Hearth downscales it; llama.cpp resizes it itself on the raw path), and one already at
    # the projector's input size (both sides hand llama.cpp the same pixels: Hearth's overhead alone)
    for label, photo_size in (("", size), ("_small", (224, 168))):
        image = work / f"chat-photo{label}.jpg"
        Image.fromarray(photo(*photo_size, seed=99)).save(image, quality=90)
        raw(image)
        ours(image)  # warm-up: first-call allocations on both sides
        raws, hearths = [], []
        for run in range(runs):
            raws.append(raw(image))
            hearths.append(ours(image))
            print(f"  {photo_size[0]}x{photo_size[1]} run {run}: image + first token raw {raws[-1][0] * 1000:.0f} ms "
                  f"({raws[-1][1] * 1000:.0f} ms CPU), Hearth {hearths[-1][0] * 1000:.0f} ms "
                  f"({hearths[-1][1] * 1000:.0f} ms CPU)", file=sys.stderr)
        r, h = (statistics.median(t for t, _ in raws), statistics.median(t for t, _ in hearths))
        rc, hc = (statistics.median(c for _, c in raws), statistics.median(c for _, c in hearths))
        figures |= {f"vision_raw_ttft_s{label}": round(r, 4), f"vision_hearth_ttft_s{label}": round(h, 4),
                    f"vision_ttft_ratio{label}": round(h / r, 3), f"vision_ttft_ratio_cpu{label}": round(hc / rc, 3)}
    hearth.close()
    raw_llm.close()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--size", default="1024x768", help="photo size WxH")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--chat-runs", type=int, default=5)
    parser.add_argument("--skip-clip", action="store_true")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch and llama.cpp threads (default 1: idle threads that spin-wait inflate CPU time "
                             "on a shared machine; 0 = one per physical core)")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.lower().split("x"))

    work = Path(tempfile.mkdtemp(prefix="hearth-bench-vision-"))
    os.environ["HEARTH_HOME"] = str(work / "home")
    import torch

    from app.core.segment.model import limit_cpu_threads

    limit_cpu_threads()
    if args.threads:
        torch.set_num_threads(args.threads)
    figures: dict = {"photo_size": args.size, "threads": args.threads or "auto",
                     "load_before": round(os.getloadavg()[0], 2)}
    try:
        if not args.skip_clip:
            figures |= {"clip_images": args.images, **bench_clip(work, args.images, size, args.runs)}
        figures |= bench_chat(work, size, args.chat_runs, args.threads)
    finally:
        shutil.rmtree(work, ignore_errors=True)  # the random ViT-B/32 alone is 600 MB
    figures["load_after"] = round(os.getloadavg()[0], 2)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
