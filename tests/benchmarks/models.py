"""Models benchmark: Hearth's download path (Range-resumable, self-healing, SHA-256 verified) against a raw urllib
copy of the same file from a local 127.0.0.1 server (and a cut healed inside one job), and Hearth's quantization
(llama.cpp in a child process, with progress and cancel) against calling `llama_model_quantize` directly
in-process, on a small llama GGUF. Medians of several runs; the last line is one JSON object.

    .venv/bin/python tests/benchmarks/models.py [--runs 5] [--mb 64]
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--mb", type=int, default=64)
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="hearth-bench-")
    os.environ["HEARTH_HOME"] = home

    import hashlib

    from app.core.jobs import JobState
    from app.core.models import downloads, quantize, registry
    from tests.fixtures.http_server import FileServer
    from tests.fixtures.tiny_gguf import write_tiny_llama

    server = FileServer()
    data = b"GGUF" + os.urandom(args.mb * 10**6 - 4)
    sha = hashlib.sha256(data).hexdigest()
    url = server.add_file("/files/bench.gguf", data)

    def hearth_download() -> float:
        for m in registry.installed("chat"):
            registry.remove(m)
        t = time.perf_counter()
        downloads.download(downloads.spec_from_url(url, sha256=sha), JobState())
        return time.perf_counter() - t

    def raw_download() -> float:
        out = Path(home) / "raw.bin"
        t = time.perf_counter()
        digest = hashlib.sha256()
        with urllib.request.urlopen(url) as r, open(out, "wb") as fh:
            while chunk := r.read(1 << 20):
                fh.write(chunk)
                digest.update(chunk)
        assert digest.hexdigest() == sha
        out.unlink()
        return time.perf_counter() - t

    hearth_download(), raw_download()  # warm up
    hd = [hearth_download() for _ in range(args.runs)]
    rd = [raw_download() for _ in range(args.runs)]
    h_mbs, r_mbs = args.mb / statistics.median(hd), args.mb / statistics.median(rd)
    print(f"download {args.mb} MB + SHA-256  hearth: median {statistics.median(hd) * 1000:.0f} ms ({h_mbs:.0f} MB/s)"
          f"  raw urllib: median {statistics.median(rd) * 1000:.0f} ms ({r_mbs:.0f} MB/s)")

    # resume: cut at 50 % with automatic retries off, then measure the resumed half
    for m in registry.installed("chat"):
        registry.remove(m)
    server.cut["/files/bench.gguf"] = len(data) // 2
    os.environ["HEARTH_DOWNLOAD_RETRIES"] = "0"
    try:
        downloads.download(downloads.spec_from_url(url, sha256=sha), JobState())
    except Exception:
        pass
    del os.environ["HEARTH_DOWNLOAD_RETRIES"]
    t = time.perf_counter()
    downloads.download(downloads.spec_from_url(url, sha256=sha), JobState())
    resume_s = time.perf_counter() - t
    print(f"resume after a cut at 50 %: {resume_s * 1000:.0f} ms (Range request: "
          f"{server.requests('/files/bench.gguf')[-1].range})")

    # self-healing: the same cut inside one job, retried at once (no backoff wait), against an uncut download
    heal = []
    for _ in range(args.runs):
        for m in registry.installed("chat"):
            registry.remove(m)
        server.cut["/files/bench.gguf"] = len(data) // 2
        os.environ["HEARTH_DOWNLOAD_BACKOFF_S"] = "0"
        t = time.perf_counter()
        downloads.download(downloads.spec_from_url(url, sha256=sha), JobState())
        heal.append(time.perf_counter() - t)
        del os.environ["HEARTH_DOWNLOAD_BACKOFF_S"]
    print(f"download cut at 50 % and healed in the same job: median {statistics.median(heal) * 1000:.0f} ms "
          f"(uncut: {statistics.median(hd) * 1000:.0f} ms)")

    src = write_tiny_llama(Path(home) / "bench-F32.gguf", n_embd=512, n_layer=4, n_ff=1536)
    print(f"quantize source: {src.stat().st_size / 1e6:.1f} MB F32")

    def hearth_quantize() -> float:
        for m in registry.installed("chat"):
            registry.remove(m)
        t = time.perf_counter()
        quantize.quantize({"src": src, "type": "Q4_K_M"}, JobState())
        return time.perf_counter() - t

    def raw_quantize() -> float:
        import llama_cpp

        out = Path(home) / "raw-q.gguf"
        params = llama_cpp.llama_model_quantize_default_params()
        params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M
        params.nthread = max(1, (os.cpu_count() or 2) - 1)
        t = time.perf_counter()
        assert llama_cpp.llama_model_quantize(str(src).encode(), str(out).encode(), ctypes.byref(params)) == 0
        elapsed = time.perf_counter() - t
        out.unlink()
        return elapsed

    hearth_quantize(), raw_quantize()
    hq = [hearth_quantize() for _ in range(args.runs)]
    rq = [raw_quantize() for _ in range(args.runs)]
    print(f"quantize F32 → Q4_K_M  hearth (child process): median {statistics.median(hq) * 1000:.0f} ms  "
          f"raw in-process: median {statistics.median(rq) * 1000:.0f} ms")
    server.close()
    print(json.dumps({
        "download_mb_s_hearth": round(h_mbs, 1), "download_mb_s_raw": round(r_mbs, 1),
        "resume_half_s": round(resume_s, 3), "healed_cut_s": round(statistics.median(heal), 3),
        "quantize_s_hearth": round(statistics.median(hq), 3), "quantize_s_raw": round(statistics.median(rq), 3),
    }))


if __name__ == "__main__":
    main()
