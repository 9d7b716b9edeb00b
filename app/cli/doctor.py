"""`hearth doctor`: engines, accelerators, data paths, free disk. Exits 1 when an engine cannot be imported."""

from __future__ import annotations

import platform
import shutil
import sys

import app as hearth
from app.core import devices, libraries, paths
from app.core.units import format_bytes


def register(sub) -> None:
    parser = sub.add_parser("doctor", help="check engines, accelerators and data paths")
    parser.set_defaults(func=run)


def run(_args) -> int:
    out = sys.stdout
    print(f"Hearth {hearth.__version__} — Python {platform.python_version()} on {platform.platform()}", file=out)
    print("\nEngines (import time, in this order):", file=out)
    failed = []
    for module, dist, role in libraries.LIBRARIES:
        check = libraries.check_import(module, dist)
        if check.ok:
            print(f"  ok    {module:<22} {check.version:<14} {check.seconds:6.2f} s  {role}", file=out)
        else:
            failed.append(module)
            print(f"  FAIL  {module:<22} {check.version:<14} {check.seconds:6.2f} s  {check.error}", file=out)

    print("\nHardware:", file=out)
    info = devices.detect()
    print(f"  CPU            {info.cpu_name} ({', '.join(info.cpu_features) or 'no SIMD extensions found'}), "
          f"{info.physical_cores} physical cores", file=out)
    print(f"  RAM            {format_bytes(info.ram_bytes)}", file=out)
    for gpu in info.gpus:
        mem = f", {format_bytes(gpu.memory_bytes)}" if gpu.memory_bytes else ""
        print(f"  GPU            {gpu.name} ({gpu.kind}{mem})", file=out)
    print(f"  Hearth will use {info.best}", file=out)
    if "torch" not in failed:
        acc = devices.torch_accelerators()
        cuda = ", ".join(acc["cuda_devices"]) if acc["cuda"] else "no"
        print(f"  torch CUDA     {cuda}", file=out)
        print(f"  torch MPS      {'yes' if acc['mps'] else 'no'}", file=out)
    if "llama_cpp" not in failed:
        print(f"  llama.cpp GPU offload  {'yes' if devices.llama_gpu_offload() else 'no (CPU build)'}", file=out)

    print("\nData:", file=out)
    for name, path in paths.all_paths().items():
        print(f"  {name:<14} {path}", file=out)
    usage = shutil.disk_usage(paths.data_dir())
    print(f"  free disk      {format_bytes(usage.free)} of {format_bytes(usage.total)}", file=out)

    if failed:
        print(f"\nProblem: {', '.join(failed)} could not be imported. Reinstall with `make run` "
              "(or pip install -e .) and run `hearth doctor` again.", file=out)
        return 1
    print("\nAll engines import.", file=out)
    return 0
