"""Device and memory plan for diffusion, chosen from the hardware and overridable in settings.

- CUDA: fp16; model CPU offload when VRAM is small (< 12 GB; SDXL < 16 GB); VAE slicing; VAE tiling above 1 MP.
- Apple MPS: fp16; attention slicing below 64 GB of unified memory; VAE slicing.
- CPU: fp32 (fp16 is slow or unsupported on CPUs); nothing else: slicing costs speed and RAM is rarely the limit.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class DevicePlan:
    """Where and how a diffusion pipeline runs: `device` (cpu | cuda | mps), `dtype` (float32 | float16), and diffusers'
    memory savers: model CPU offload (CUDA only), attention slicing, VAE slicing, VAE tiling."""

    device: str  # cpu | cuda | mps
    dtype: str  # float32 | float16
    cpu_offload: bool = False
    attention_slicing: bool = False
    vae_slicing: bool = False
    vae_tiling: bool = False

    def describe(self) -> str:
        """One line for logs and the UI, e.g. 'CUDA fp16 (CPU offload, VAE slicing)'."""
        extras = [n for n, on in (("CPU offload", self.cpu_offload), ("attention slicing", self.attention_slicing),
                                   ("VAE slicing", self.vae_slicing), ("VAE tiling", self.vae_tiling)) if on]
        precision = "fp16" if self.dtype == "float16" else "fp32"
        return f"{self.device.upper()} {precision}" + (f" ({', '.join(extras)})" if extras else "")


def _accelerators() -> tuple[bool, int, bool, int]:
    import torch

    from app.core.devices import ram_bytes

    cuda = bool(torch.cuda.is_available())
    vram = int(torch.cuda.get_device_properties(0).total_memory) if cuda else 0
    mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    return cuda, vram, mps, ram_bytes()


def choose(settings=None, family: str = "sd1", pixels: int = 512 * 512) -> DevicePlan:
    """settings: an ImagesSettings (device/precision/offload/attention_slicing: 'auto' or an explicit choice)."""
    device = getattr(settings, "device", "auto") or "auto"
    cuda, vram, mps, ram = _accelerators()
    if device == "auto":
        device = "cuda" if cuda else "mps" if mps else "cpu"
    elif device == "cuda" and not cuda or device == "mps" and not mps:
        device = "cpu"
    plan = DevicePlan(device=device, dtype="float32" if device == "cpu" else "float16")
    if device == "cuda":
        limit = 16 if family == "sdxl" else 12
        plan.cpu_offload = vram < limit * 2**30
        plan.vae_slicing = True
        plan.vae_tiling = pixels > 1024 * 1024
    elif device == "mps":
        plan.attention_slicing = ram < 64 * 2**30
        plan.vae_slicing = True
    precision = getattr(settings, "precision", "auto")
    if precision in ("float16", "float32"):
        plan.dtype = precision
    for name in ("cpu_offload", "attention_slicing"):
        value = getattr(settings, name, "auto")
        if value in ("on", "off"):
            setattr(plan, name, value == "on" and (name != "cpu_offload" or device == "cuda"))
    return plan
