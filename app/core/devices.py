"""What hardware there is: GPU (CUDA / Apple Metal), CPU features, memory.

`detect()` is cheap and imports no ML library (it reads /proc, sysctl or nvidia-smi), so the GUI can show the
device at startup. `torch_accelerators()` and `llama_gpu_offload()` import their engine and are for `doctor` and
for engines that have already paid that import.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from dataclasses import dataclass, field

from app.core.units import format_bytes


@dataclass
class Gpu:
    """A GPU Hearth can use: NVIDIA (CUDA) or Apple Silicon (Metal)."""

    name: str
    kind: str  # "cuda" | "metal"
    memory_bytes: int | None = None  # VRAM, or unified memory on Apple


@dataclass
class DeviceInfo:
    """This computer: CPU name and SIMD features ("AVX2", "AVX-512", "NEON"…), physical cores, RAM (bytes), GPUs."""

    cpu_name: str
    cpu_features: list[str]
    physical_cores: int
    ram_bytes: int
    gpus: list[Gpu] = field(default_factory=list)

    @property
    def best(self) -> str:
        """One line: the compute device Hearth will use."""
        if self.gpus:
            gpu = self.gpus[0]
            if gpu.kind == "cuda":
                mem = f", {format_bytes(gpu.memory_bytes)}" if gpu.memory_bytes else ""
                return f"CUDA GPU: {gpu.name}{mem}"
            return f"Apple Metal: {gpu.name}"
        feats = [f for f in ("AVX-512", "AVX2", "NEON") if f in self.cpu_features]
        what = " + ".join(feats[:1]) if feats else "no SIMD extensions found"
        return f"CPU ({what}), {self.physical_cores} cores"


def _run(cmd: list[str], timeout: float = 3.0) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def _cpu_linux() -> tuple[str, list[str]]:
    name, flags = platform.processor() or "CPU", set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and name in ("", "CPU", platform.machine()):
                    name = value.strip()
                elif key in ("flags", "Features") and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    feats = []
    if "avx512f" in flags:
        feats.append("AVX-512")
    if "avx2" in flags:
        feats.append("AVX2")
    if "avx" in flags:
        feats.append("AVX")
    if "asimd" in flags or platform.machine() in ("aarch64", "arm64"):
        feats.append("NEON")
    return name, feats


def _cpu_mac() -> tuple[str, list[str]]:
    name = _run(["sysctl", "-n", "machdep.cpu.brand_string"]).strip() or platform.processor() or "CPU"
    feats = []
    if platform.machine() == "arm64":
        feats.append("NEON")
    else:
        leaf7 = _run(["sysctl", "-n", "machdep.cpu.leaf7_features"]).upper()
        if "AVX512F" in leaf7:
            feats.append("AVX-512")
        if "AVX2" in leaf7:
            feats.append("AVX2")
    return name, feats


def _cpu_windows() -> tuple[str, list[str]]:
    feats = []
    try:  # IsProcessorFeaturePresent: 39 = PF_AVX2_INSTRUCTIONS_AVAILABLE, 41 = PF_AVX512F_INSTRUCTIONS_AVAILABLE
        import ctypes

        present = ctypes.windll.kernel32.IsProcessorFeaturePresent  # type: ignore[attr-defined]
        if present(41):
            feats.append("AVX-512")
        if present(39):
            feats.append("AVX2")
    except Exception:
        pass
    return platform.processor() or "CPU", feats


def _nvidia_gpus() -> list[Gpu]:
    if not shutil.which("nvidia-smi"):
        return []
    out = _run(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"])
    gpus = []
    for line in out.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if parts and parts[0]:
            mem = int(float(parts[1])) * 2**20 if len(parts) > 1 and parts[1].replace(".", "").isdigit() else None
            gpus.append(Gpu(parts[0], "cuda", mem))
    return gpus


def ram_bytes() -> int:
    """Total RAM in bytes (psutil, else sysconf; 0 when neither can tell)."""
    try:
        import psutil

        return int(psutil.virtual_memory().total)
    except Exception:
        try:
            return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            return 0


def physical_cores() -> int:
    """Physical CPU cores (psutil; the logical count when it cannot tell): llama.cpp's best thread count."""
    try:
        import psutil

        return psutil.cpu_count(logical=False) or os.cpu_count() or 1
    except Exception:
        return os.cpu_count() or 1


def detect() -> DeviceInfo:
    """CPU name and SIMD features, physical cores, RAM and GPUs (NVIDIA through nvidia-smi; Apple Silicon's
    unified memory as a Metal GPU). Runs subprocesses and reads /proc: off the GUI thread (detect_job)."""
    system = platform.system()
    if system == "Darwin":
        cpu, feats = _cpu_mac()
    elif system == "Windows":
        cpu, feats = _cpu_windows()
    else:
        cpu, feats = _cpu_linux()
    ram = ram_bytes()
    gpus = _nvidia_gpus()
    if not gpus and system == "Darwin" and platform.machine() == "arm64":
        gpus = [Gpu(cpu or "Apple Silicon", "metal", ram)]
    return DeviceInfo(cpu, feats, physical_cores(), ram, gpus)


def detect_job(_inputs, state) -> DeviceInfo:
    """Job: detect() with a progress note (the status bar's "Device: …")."""
    state.progress(None, "Detecting hardware")
    return detect()


def torch_accelerators() -> dict[str, object]:
    """Imports torch. {'cuda': bool, 'cuda_devices': [...], 'mps': bool}."""
    import torch

    cuda = bool(torch.cuda.is_available())
    names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if cuda else []
    mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    return {"cuda": cuda, "cuda_devices": names, "mps": mps}


def llama_gpu_offload() -> bool:
    """Imports llama_cpp: whether this build of llama.cpp can offload layers to a GPU."""
    import llama_cpp

    return bool(llama_cpp.llama_supports_gpu_offload())
