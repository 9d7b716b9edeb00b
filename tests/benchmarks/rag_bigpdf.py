"""Memory while indexing a very long PDF: Hearth's indexer on a 2,000-page PDF against the same indexer on a 200-page
one, each in a fresh process, so that the peak resident set size (RSS) of each is its own.

Memory is bounded when the 2,000-page run peaks near the 200-page run (the models and the pipeline's queues, not
the document, set the peak): `rss_ratio` = peak RSS at 2,000 pages ÷ peak RSS at 200 pages, and the raw baseline is
the same process with only the embedder loaded (`baseline_rss_mb`: what any indexer needs before reading a page).
Loading the embedder (its ONNX check runs the torch model once) can set the process's peak by itself, so the RSS is
also sampled every 0.1 s while indexing: `indexing_growth_mb` = the most it rose above where indexing started.
The PDFs are made here with fpdf2: every page a different ~600-character paragraph drawn from a fixed vocabulary
(seeded, so runs compare), so nothing is collapsed as a duplicate.

    python tests/benchmarks/rag_bigpdf.py [--pages 2000] [--small 200]

Last line: one JSON object with pages, peak_rss_mb, small_pages, small_peak_rss_mb, rss_ratio,
indexing_growth_mb, small_indexing_growth_mb, baseline_rss_mb, pages_per_s, chunks.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORDS = ("heater filter warranty screw wall cable plug reset sensor amber light probe thermostat grille curtain "
         "furniture vacuum cloth casing dust flow warm air manual install mount floor box recycle defect purchase "
         "battery charger display button menu setting timer schedule mode eco boost frost child lock fan speed "
         "noise level room size power watt volt fuse socket outlet extension cord label serial model number service "
         "engineer repair part spare order delivery return refund invoice receipt guarantee period claim form").split()


def make_pdf(path: Path, pages: int, seed: int = 7) -> Path:
    """A PDF of `pages` pages, each a different ~600-character paragraph (fpdf2)."""
    from fpdf import FPDF

    rng = random.Random(seed)
    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    for number in range(1, pages + 1):
        pdf.add_page()
        words = [rng.choice(WORDS) for _ in range(90)]
        pdf.multi_cell(0, 6, f"Section {number}. " + " ".join(words).capitalize() + ".")
    pdf.output(str(path))
    return path


CHILD = r"""
import json, os, resource, sys, time
sys.path.insert(0, sys.argv[1])
from app.core.documents.embedder import BUILTIN, get_embedder
from app.core.documents.indexer import IndexRequest, index_collection
from app.core.jobs import JobState
get_embedder(BUILTIN)
baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
if sys.argv[3] == "baseline":
    print(json.dumps({"peak_rss_mb": baseline}))
    raise SystemExit
import threading
page = os.sysconf("SC_PAGE_SIZE")
def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * page / 2**20
samples, done = [rss_mb()], threading.Event()
def sample():
    while not done.wait(0.1):
        samples.append(rss_mb())
threading.Thread(target=sample, daemon=True).start()
t0 = time.perf_counter()
report = index_collection(IndexRequest("big", [sys.argv[2]]), JobState())
seconds = time.perf_counter() - t0
done.set()
print(json.dumps({"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "before_rss_mb": samples[0], "indexing_peak_rss_mb": max(samples),
                  "baseline_rss_mb": baseline, "pages": report.pages, "chunks": report.chunks,
                  "seconds": seconds, "failed": report.failed}))
"""


def run_child(pdf: Path, home: Path, what: str = "index") -> dict:
    env = {**os.environ, "HEARTH_HOME": str(home), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", CHILD, str(ROOT), str(pdf), what], env=env, capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise SystemExit(f"the indexing process failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--small", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hearth-bigpdf-") as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        big, small = make_pdf(tmp / "big.pdf", args.pages), make_pdf(tmp / "small.pdf", args.small, seed=8)
        print(f"made the PDFs in {time.perf_counter() - t0:.0f} s ({big.stat().st_size / 1e6:.1f} MB)",
              file=sys.stderr)
        base = run_child(small, tmp / "home-base", "baseline")
        low = run_child(small, tmp / "home-small")
        high = run_child(big, tmp / "home-big")
    for name, r in (("small", low), ("big", high)):
        print(f"{name}: {r['pages']} pages, {r['chunks']} passages in {r['seconds']:.0f} s "
              f"({r['pages'] / r['seconds']:.1f} pages/s), RSS {r['before_rss_mb']:.0f} MB before indexing, "
              f"{r['indexing_peak_rss_mb']:.0f} MB at most while indexing (sampled every 0.1 s); process peak "
              f"{r['peak_rss_mb']:.0f} MB", file=sys.stderr)
    print(f"embedder loaded, nothing read: peak RSS {base['peak_rss_mb']:.0f} MB", file=sys.stderr)
    print(json.dumps({"pages": high["pages"], "peak_rss_mb": round(high["peak_rss_mb"]),
                      "small_pages": low["pages"], "small_peak_rss_mb": round(low["peak_rss_mb"]),
                      "rss_ratio": round(high["peak_rss_mb"] / low["peak_rss_mb"], 3),
                      "indexing_growth_mb": round(high["indexing_peak_rss_mb"] - high["before_rss_mb"]),
                      "small_indexing_growth_mb": round(low["indexing_peak_rss_mb"] - low["before_rss_mb"]),
                      "baseline_rss_mb": round(base["peak_rss_mb"]),
                      "pages_per_s": round(high["pages"] / high["seconds"], 2), "chunks": high["chunks"],
                      "failed": high["failed"]}))


if __name__ == "__main__":
    main()
