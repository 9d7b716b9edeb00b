"""Text from pictures of text (OCR): scanned PDF pages and image files, read with RapidOCR.

RapidOCR (PyPI `rapidocr`) runs PaddleOCR's PP-OCR detection and recognition models on ONNX Runtime; the models
ship inside its wheel and are passed to it by path (bundled_models), so it never tries to download anything.
It is imported on first use only.

A page is read upright. RapidOCR's per-line angle classifier is off: on upright pages it turned some lines upside
down (a third of a test page came out as garbage, and slower). Instead the page's orientation is found once
(Tesseract's OSD does the same per page): when most detected text boxes are taller than wide the page lies on its
side and is turned a quarter; the classifier then votes on pieces of the widest lines whether the page is upside
down, and only then is the page recognised (or recognised again).

PP-OCR sometimes drops the space between two English words; the text is stored with such words split again
(wordsplit.py), for search and for display alike.

Cost on 2 busy cores: ~10–20 s for a full A4 page of text at 170 dpi, almost all of it recognition
(tests/benchmarks/ocr.py measures it).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from app.core.documents import wordsplit

OCR_OFF = "OCR is off"  # in the reason of a file whose pages were skipped for it: a scan with OCR on retries it
OCR_ON_HINT = "the Documents tab's OCR setting, or hearth docs index --ocr"  # how to turn it on, after OCR_OFF
MAX_SIDE = 2000  # pixels: RapidOCR scales a picture down to this (its max_side_len), so pages render no larger
MAX_DPI = 200
MIN_LAYER_CHARS = 16  # a PDF page whose text layer has fewer letters/digits than this (and a picture) is OCR'd
VOTE_PIECES = 12  # pieces of lines the angle classifier looks at to decide whether a page is upside down


class OcrCancelled(Exception):
    """The job was cancelled between two pages."""


class OcrUnavailable(Exception):
    """RapidOCR or its models are missing; str(exc) says which."""


# A picture whose OCR'd text has fewer letters and digits than this found no text (a sunset's sun read as "O").
MIN_ALNUM = 3


@dataclass
class OcrText:
    """What OCR read on one picture: `text` in reading order (lines joined by newlines, a blank line where the
    gap between lines is wide), `lines` how many lines, `confidence` the mean recognition score per character
    (0–1), `rotation` the degrees (counter-clockwise: 0, 90, 180, 270) the picture was turned to read it."""

    text: str
    lines: int
    confidence: float
    rotation: int


@dataclass
class OcrOptions:
    """How a parse runs OCR: `enabled` (settings.documents.ocr), `progress(done, total, file name)` before each
    page, `cancelled()` checked between pages (True: OcrCancelled is raised)."""

    enabled: bool = True
    progress: Callable[[int, int, str], None] | None = None
    cancelled: Callable[[], bool] | None = None

    def step(self, n: int, total: int, name: str) -> None:
        """Before page n (1-based) of `total` pictures to read in file `name`: cancel check, then progress."""
        if self.cancelled is not None and self.cancelled():
            raise OcrCancelled()
        if self.progress is not None:
            self.progress(n, total, name)


def enabled(setting: bool) -> bool:
    """Whether OCR runs: HEARTH_OCR=0/1 (also off/on, false/true) overrides the setting."""
    value = os.environ.get("HEARTH_OCR", "").strip().lower()
    if value in ("0", "off", "false", "no"):
        return False
    if value in ("1", "on", "true", "yes"):
        return True
    return setting


def bundled_models() -> dict[str, Path]:
    """{"det", "cls", "rec"}: the ONNX models inside the installed rapidocr package. Raises OcrUnavailable."""
    import importlib.util

    spec = importlib.util.find_spec("rapidocr")
    if spec is None or not spec.submodule_search_locations:
        raise OcrUnavailable("OCR is not installed (pip install rapidocr)")
    folder = Path(list(spec.submodule_search_locations)[0]) / "models"
    found = {}
    for key, pattern in (("det", "*_det_*.onnx"), ("cls", "*_cls_*.onnx"), ("rec", "*_rec_*.onnx")):
        matches = sorted(folder.glob(pattern))
        if not matches:
            raise OcrUnavailable(f"OCR models missing from {folder} (reinstall rapidocr)")
        found[key] = matches[-1]
    return found


_engine = None
_engine_lock = threading.Lock()  # one engine, one call at a time: its calls also change its settings


def _get_engine():
    global _engine
    if _engine is None:
        from rapidocr import RapidOCR

        models = bundled_models()
        _engine = RapidOCR(params={"Global.log_level": "error", "Global.use_cls": False,
                                   "Det.model_path": str(models["det"]), "Cls.model_path": str(models["cls"]),
                                   "Rec.model_path": str(models["rec"])})
    return _engine


def raw_engine():
    """The RapidOCR engine Hearth uses (the benchmark compares against it). Hold `engine_lock()` to call it."""
    return _get_engine()


def engine_lock() -> threading.Lock:
    return _engine_lock


def recognize(pixels: np.ndarray) -> OcrText:
    """Read the text in a picture (H×W greyscale or H×W×3 uint8), turning it upright first (module notes).

    Raises OcrUnavailable when RapidOCR cannot be loaded; anything RapidOCR raises on a bad picture propagates."""
    pixels = np.ascontiguousarray(pixels)
    with _engine_lock:
        engine = _get_engine()
        rotation = 0
        result = _run(engine, pixels, rec=True)
        boxes = _boxes(result)
        if len(boxes) and np.mean(_heights(boxes) > 1.5 * _widths(boxes)) > 0.5:  # lying on its side
            rotation = 90
            pixels = np.ascontiguousarray(np.rot90(pixels, 1))
            boxes = _boxes(_run(engine, pixels, rec=False))
            result = None
        if len(boxes) and _upside_down(engine, pixels, boxes):
            rotation = (rotation + 180) % 360
            pixels = np.ascontiguousarray(np.rot90(pixels, 2))
            result = None
        if result is None:
            result = _run(engine, pixels, rec=True)
    return _assemble(result, rotation)


def _run(engine, pixels: np.ndarray, rec: bool):
    """Detection (+ recognition) without the angle classifier. Every flag is passed: RapidOCR keeps the flags of
    its last call."""
    return engine(pixels, use_det=True, use_cls=False, use_rec=rec)


def _boxes(result) -> np.ndarray:
    boxes = getattr(result, "boxes", None)
    return np.zeros((0, 4, 2)) if boxes is None or len(boxes) == 0 else np.asarray(boxes, dtype=np.float32)


def _widths(boxes: np.ndarray) -> np.ndarray:
    return np.linalg.norm(boxes[:, 1] - boxes[:, 0], axis=1)


def _heights(boxes: np.ndarray) -> np.ndarray:
    return np.linalg.norm(boxes[:, 3] - boxes[:, 0], axis=1)


def _upside_down(engine, pixels: np.ndarray, boxes: np.ndarray) -> bool:
    """The angle classifier's vote (weighted by its confidence) over pieces of the widest lines: is the page upside
    down? A line is cut into pieces of about the classifier's aspect ratio (192×48): squeezed whole into it, a long
    line lost the detail that tells up from down and was voted upright either way."""
    votes, pieces = 0.0, 0
    for i in np.argsort(-_widths(boxes)):
        x0, y0 = np.floor(boxes[i].min(axis=0)).astype(int)
        x1, y1 = np.ceil(boxes[i].max(axis=0)).astype(int)
        line = pixels[max(0, y0):max(0, y1), max(0, x0):max(0, x1)]
        height = line.shape[0]
        if height < 8 or line.shape[1] < height:
            continue
        step = 4 * height
        for start in range(0, max(1, line.shape[1] - step // 2), step):
            piece = np.ascontiguousarray(line[:, start:start + step])
            out = engine(piece, use_det=False, use_cls=True, use_rec=False)
            for label, score in getattr(out, "cls_res", None) or []:
                votes += score if label == "180" else -score
            pieces += 1
            if pieces >= VOTE_PIECES:
                return votes > 0
    return votes > 0


def _assemble(result, rotation: int) -> OcrText:
    """Lines in reading order: boxes on one row joined by a space, rows by a newline, a blank line before a row
    whose gap to the previous one is over 1.2 line heights (a new paragraph); words the recogniser ran together
    written apart (wordsplit: "technicianwas" → "technician was"), so keyword search finds them."""
    texts = getattr(result, "txts", None) or ()
    if not texts:
        return OcrText("", 0, 0.0, rotation)
    boxes, scores = _boxes(result), list(result.scores)
    tops, bottoms = boxes[:, :, 1].min(axis=1), boxes[:, :, 1].max(axis=1)
    lefts = boxes[:, :, 0].min(axis=1)
    height = float(np.median(bottoms - tops)) or 1.0
    rows: list[list[int]] = []
    for i in sorted(range(len(texts)), key=lambda i: (tops[i] + bottoms[i]) / 2):
        centre = (tops[i] + bottoms[i]) / 2
        if rows and abs(centre - np.mean([(tops[j] + bottoms[j]) / 2 for j in rows[-1]])) < height / 2:
            rows[-1].append(i)
        else:
            rows.append([i])
    parts: list[str] = []
    previous_bottom = None
    for row in rows:
        row.sort(key=lambda i: lefts[i])
        line = " ".join(texts[i].strip() for i in row if texts[i].strip())
        if not line:
            continue
        top = min(tops[i] for i in row)
        if previous_bottom is not None:
            parts.append("\n\n" if top - previous_bottom > 1.2 * height else "\n")
        parts.append(line)
        previous_bottom = max(bottoms[i] for i in row)
    chars = sum(len(t) for t in texts)
    confidence = sum(len(t) * s for t, s in zip(texts, scores)) / chars if chars else 0.0
    text = "".join(parts)
    if sum(c.isalnum() for c in text) < MIN_ALNUM:  # a disc read as "O", a stray mark: not text
        return OcrText("", 0, 0.0, rotation)
    return OcrText(wordsplit.split_merged_words(text), len(rows), float(confidence), rotation)


def render_scale(width_pt: float, height_pt: float) -> float:
    """PDFium's render scale for a page of width×height points: MAX_DPI, or less so its long side is at most
    MAX_SIDE pixels."""
    return min(MAX_DPI / 72.0, MAX_SIDE / max(width_pt, height_pt, 1.0))


def render_page(page) -> np.ndarray:
    """A pypdfium2 page as an H×W uint8 greyscale picture (its /Rotate applied), one page at a time. Call with
    the PDFium lock held."""
    width, height = page.get_size()
    bitmap = page.render(scale=render_scale(width, height), grayscale=True, may_draw_forms=False)
    try:
        return np.array(bitmap.to_pil().convert("L"))
    finally:
        bitmap.close()


def page_list(pages: list[int]) -> str:
    """'page 2', 'pages 2 and 5', 'pages 2, 5–7 and 9' for sorted 1-based page numbers."""
    runs: list[str] = []
    start = prev = None
    for p in pages + [None]:
        if p is not None and prev is not None and p == prev + 1:
            prev = p
            continue
        if start is not None:
            runs.append(str(start) if start == prev else f"{start}–{prev}")
        start = prev = p
    if len(pages) == 1:
        return f"page {runs[0]}"
    return "pages " + (runs[0] if len(runs) == 1 else ", ".join(runs[:-1]) + " and " + runs[-1])


def mark_hits(store, collections, hits) -> None:
    """Set `hit.ocr` on retrieved passages whose page(s) OCR read (store.ocr_pages), so sources can say
    "page 3 (OCR)". `collections`: the CollectionInfos searched; hits carry their collection's name."""
    by_name = {info.name: info for info in collections}
    for name in {h.collection for h in hits}:
        info = by_name.get(name)
        if info is None:
            continue
        group = [h for h in hits if h.collection == name]
        pages = store.ocr_pages(info, [h.file for h in group])
        for hit in group:
            read = pages.get(hit.file)
            if not read:
                continue
            first = hit.page or 0
            hit.ocr = any(p in read for p in range(first, (hit.page_end or first) + 1))
