"""Benchmark: Hearth's image job vs a raw diffusers pipeline call, same pipeline, same seed.

The pipeline has the real SD-1.5 architecture (UNet, VAE, CLIP text encoder built from Hearth's shipped SD 1.x
configs) with random weights: timing does not depend on the weights. 256x256, a few steps, CFG on.

- raw:    pipe(prompt, ...) with a callback that only records the time
- hearth: ImageEngine.generate (the job function the GUI and CLI run): per-step callback with progress,
          cancel check and a live preview, then the PNG with metadata
- hearth without previews: to isolate the preview overhead

The model is handed to Hearth's pipeline cache already built (writing 4 GB of random weights to disk would only
time the disk), so the figures compare the generation paths; loading is tested elsewhere.

    python tests/benchmarks/images.py [--steps 3] [--repeats 2]

Last line: one JSON object with raw_s_per_step, hearth_s_per_step, step_ratio, preview_overhead, raw_peak_mb,
hearth_peak_mb.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


class PeakRss:
    """Samples this process's RSS every 20 ms while active."""

    def __init__(self):
        import psutil

        self.proc = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()

    def __enter__(self):
        self.peak = self.proc.memory_info().rss
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.proc.memory_info().rss)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)


def build_pipeline(tmp: Path):
    import torch
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    from app.core.images.families import shipped_config
    from tests.core.images.tiny import write_tokenizer

    cfg = shipped_config("sd1")
    torch.manual_seed(0)
    unet = UNet2DConditionModel.from_config(UNet2DConditionModel.load_config(str(cfg / "unet")))
    vae = AutoencoderKL.from_config(AutoencoderKL.load_config(str(cfg / "vae")))
    text = CLIPTextModel(CLIPTextConfig.from_pretrained(str(cfg / "text_encoder")))
    write_tokenizer(tmp / "tokenizer")
    tokenizer = CLIPTokenizer.from_pretrained(str(tmp / "tokenizer"))
    scheduler = EulerDiscreteScheduler.from_pretrained(str(cfg / "scheduler"))
    pipe = StableDiffusionPipeline(unet=unet.eval(), vae=vae.eval(), text_encoder=text.eval(), tokenizer=tokenizer,
                                   scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def per_step(times: list[float]) -> float:
    """Median step time, leaving out the first interval (it includes prompt encoding)."""
    return statistics.median(times[1:] if len(times) > 1 else times)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()

    import torch
    from safetensors.torch import save_file

    tmp = Path(tempfile.mkdtemp(prefix="hearth-bench-images-"))
    os.environ["HEARTH_HOME"] = str(tmp / "home")
    from app.core.images.jobs import ImageEngine, ImageRequest
    from app.core.images.loader import LoadedModel
    from app.core.images.params import GenerationParams
    from app.core.jobs import Job, JobState, run_sync
    from app.core.settings import ImagesSettings

    print(f"building SD-1.5 architecture with random weights (torch threads: {torch.get_num_threads()})…",
          file=sys.stderr)
    pipe = build_pipeline(tmp)
    # A model folder for Hearth's path checks; its pipeline is handed to the cache already built.
    folder = tmp / "sd15-random"
    (folder / "unet").mkdir(parents=True)
    (folder / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline"}))
    save_file({"x": torch.zeros(1)}, str(folder / "unet" / "diffusion_pytorch_model.safetensors"))

    settings = ImagesSettings(device="cpu", preview="approx")
    engine = ImageEngine(settings)
    plan = engine.plan_for(GenerationParams(width=args.size, height=args.size))
    engine.cache.model = LoadedModel(key=(str(folder.resolve()), plan.device, plan.dtype, plan.cpu_offload, ""),
                                     path=folder, family="sd1", plan=plan, base=pipe)
    params = GenerationParams(prompt="a cat in a hat", negative_prompt="blurry", model=str(folder), seed=1234,
                              steps=args.steps, guidance=7.0, scheduler="Euler", width=args.size, height=args.size)

    def raw_once() -> list[float]:
        from diffusers import EulerDiscreteScheduler

        stamps = [time.perf_counter()]

        def cb(p, step, t, kw):
            stamps.append(time.perf_counter())
            return kw

        pipe.scheduler = EulerDiscreteScheduler.from_config(pipe.scheduler.config)
        pipe(params.prompt, negative_prompt=params.negative_prompt, num_inference_steps=args.steps,
             guidance_scale=params.guidance, width=args.size, height=args.size,
             generator=torch.Generator("cpu").manual_seed(params.seed), callback_on_step_end=cb)
        return [b - a for a, b in zip(stamps, stamps[1:])]

    def hearth_once(previews: bool) -> list[float]:
        engine.settings.preview = "approx" if previews else "off"
        result = run_sync(Job(engine.generate, ImageRequest(params, previews=previews), resource="image-model"),
                          JobState())
        return result[0].step_seconds

    raw_once()  # warm-up (allocator, kernels)
    # Interleaved, so load from other processes on a shared machine hits all three alike.
    raw, hearth, hearth_np = [], [], []
    raw_peak = hearth_peak = 0
    for _ in range(args.repeats):
        with PeakRss() as rss:
            raw.append(per_step(raw_once()))
        raw_peak = max(raw_peak, rss.peak)
        with PeakRss() as rss:
            hearth.append(per_step(hearth_once(True)))
        hearth_peak = max(hearth_peak, rss.peak)
        hearth_np.append(per_step(hearth_once(False)))
    raw_s, hearth_s, hearth_np_s = (statistics.median(v) for v in (raw, hearth, hearth_np))
    out = {
        "raw_s_per_step": round(raw_s, 4),
        "hearth_s_per_step": round(hearth_s, 4),
        "step_ratio": round(hearth_s / raw_s, 3),
        "preview_overhead": round(hearth_s / hearth_np_s - 1, 4),
        "raw_peak_mb": round(raw_peak / 2**20, 1),
        "hearth_peak_mb": round(hearth_peak / 2**20, 1),
    }
    print(f"SD-1.5 architecture, random weights, {args.size}x{args.size}, {args.steps} steps, CFG 7, "
          f"median of {args.repeats} runs")
    print(f"  raw diffusers            {raw_s:.3f} s/step   (runs: {', '.join(f'{v:.3f}' for v in raw)})")
    print(f"  Hearth job with previews {hearth_s:.3f} s/step   (runs: {', '.join(f'{v:.3f}' for v in hearth)})")
    print(f"  Hearth job, no previews  {hearth_np_s:.3f} s/step   (runs: {', '.join(f'{v:.3f}' for v in hearth_np)})")
    print(f"  step ratio {out['step_ratio']:.3f} (goal <= 1.03), preview overhead {out['preview_overhead'] * 100:.2f}% "
          f"(goal <= 5%)")
    print(f"  peak RSS: raw {out['raw_peak_mb']:.0f} MB, Hearth {out['hearth_peak_mb']:.0f} MB")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
