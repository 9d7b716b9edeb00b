"""OCR speed of Hearth's Documents path against raw RapidOCR, on the same scanned pages, in one process.

Pages: A4 pages of English text rendered with Pillow at 150 dpi and saved as a PDF with no text layer
(tests/core/documents/scans.py), as a flatbed scanner would make them.

1. Hearth: `parse_document` on the PDF with OCR on: PDFium renders each page (at most 2000 px on the long side),
   the page orientation is checked (angle-classifier vote over the widest lines), RapidOCR detects and
   recognises, and lines are put in reading order.
2. Raw: RapidOCR with its default settings (`RapidOCR()`, angle classifier on for every line) on the very pixels
   PDFium rendered for Hearth (rendering not timed).

Also printed: CPU seconds per page (all threads; steadier than wall time on a shared machine) and the share of
the page's words each one read (bag of words against the text drawn).

With `--word-space 0.5` the pages are set with narrow word spaces (justified or condensed print), where PP-OCR
runs words together ("technicianwas"); Hearth splits them again (app/core/documents/wordsplit.py), raw RapidOCR
does not, which the words-read figures show.

    python tests/benchmarks/ocr.py [--pages 3] [--runs 3] [--word-space 1.0]

Last line: {"ocr_pages_per_s", "raw_ocr_pages_per_s", "ocr_ratio", "ocr_cpu_s_per_page", "raw_cpu_s_per_page",
"ocr_word_recall", "raw_word_recall"}.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

PARAGRAPH = ("The outdoor unit of the heat pump stands on a concrete pad, at least thirty centimetres from the wall, "
             "so that air can flow freely around the evaporator. Clean the coil every spring with a soft brush and "
             "mild soap, and have the refrigerant pressure checked once a year by a licensed technician. If the "
             "unit ices over for more than an hour, switch to emergency heat and call the service line. ")


def word_recall(read: str, truth: str) -> float:
    """Share of the words drawn that were read (multiset intersection, case-insensitive)."""
    want = Counter(re.findall(r"\w+", truth.lower()))
    got = Counter(re.findall(r"\w+", read.lower()))
    return sum((want & got).values()) / max(1, sum(want.values()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=3)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--word-space", type=float, default=1.0,
                        help="spaces between words as a share of the font's (0.5: narrow, as in justified print, "
                             "where PP-OCR runs words together)")
    args = parser.parse_args()

    import numpy as np
    import pypdfium2 as pdfium
    from rapidocr import RapidOCR

    from app.core.documents import ocr
    from app.core.documents.parsers import parse_document
    from tests.core.documents.scans import picture

    texts = [(PARAGRAPH * 4)[i * 37:] for i in range(args.pages)]  # a different start on each page
    with tempfile.TemporaryDirectory() as tmp:
        pdf = Path(tmp) / "scan.pdf"
        pages = [picture(t, size=(1240, 1754), font_size=26, word_space=args.word_space) for t in texts]
        pages[0].save(pdf, "PDF", save_all=True, append_images=pages[1:], resolution=150)
        document = pdfium.PdfDocument(str(pdf))
        rendered = [ocr.render_page(document[i]) for i in range(len(document))]
        document.close()

        raw = RapidOCR(params={"Global.log_level": "error"})
        raw(np.asarray(rendered[0][:400, :400]))  # load the models before timing
        ocr.recognize(np.asarray(rendered[0][:400, :400]))

        hearth_s, raw_s, hearth_recall, raw_recall, hearth_cpu, raw_cpu = [], [], [], [], [], []
        for run in range(args.runs):
            t0, c0 = time.perf_counter(), time.process_time()
            parsed = parse_document(pdf)
            hearth_s.append(time.perf_counter() - t0)
            hearth_cpu.append(time.process_time() - c0)
            by_page = {s.page: s.text for s in parsed.sections}
            hearth_recall.append(statistics.mean(word_recall(by_page.get(i + 1, ""), t) for i, t in enumerate(texts)))
            t0, c0 = time.perf_counter(), time.process_time()
            results = [raw(np.asarray(p)) for p in rendered]
            raw_s.append(time.perf_counter() - t0)
            raw_cpu.append(time.process_time() - c0)
            raw_recall.append(statistics.mean(word_recall(" ".join(r.txts or ()), t)
                                              for r, t in zip(results, texts)))
            print(f"run {run + 1}: Hearth {hearth_s[-1]:.1f} s ({hearth_cpu[-1]:.1f} s CPU), raw RapidOCR "
                  f"{raw_s[-1]:.1f} s ({raw_cpu[-1]:.1f} s CPU) for {args.pages} pages", flush=True)
    hearth_rate = args.pages / statistics.median(hearth_s)
    raw_rate = args.pages / statistics.median(raw_s)
    hearth_cpu_page = statistics.median(hearth_cpu) / args.pages
    raw_cpu_page = statistics.median(raw_cpu) / args.pages
    print(f"Hearth (render + orientation + OCR): {hearth_rate:.3f} pages/s, {hearth_cpu_page:.1f} CPU s/page, "
          f"words read {statistics.mean(hearth_recall):.3f}")
    print(f"raw RapidOCR (default, pre-rendered): {raw_rate:.3f} pages/s, {raw_cpu_page:.1f} CPU s/page, "
          f"words read {statistics.mean(raw_recall):.3f}")
    print(f"ratio {hearth_rate / raw_rate:.2f}x (medians of {args.runs} runs)")
    print(json.dumps({"ocr_pages_per_s": round(hearth_rate, 4), "raw_ocr_pages_per_s": round(raw_rate, 4),
                      "ocr_ratio": round(hearth_rate / raw_rate, 3), "ocr_cpu_s_per_page": round(hearth_cpu_page, 2),
                      "raw_cpu_s_per_page": round(raw_cpu_page, 2),
                      "ocr_word_recall": round(statistics.mean(hearth_recall), 4),
                      "raw_word_recall": round(statistics.mean(raw_recall), 4)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
