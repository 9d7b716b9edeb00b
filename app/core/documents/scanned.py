"""Scanned PDF pages and image files: which pages need OCR, reading them one at a time, and what to say about the
pages that gave no text. The OCR itself is ocr.py; parsers.py calls in here and makes the sections.

Memory stays bounded by one page: a page is rendered, read and dropped before the next one is rendered (a
multi-page TIFF is decoded a frame at a time). One page that fails (a rendering error, a picture RapidOCR
rejects) is noted and skipped; the file keeps its other pages.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from app.core.documents import ocr
from app.core.documents.errors import EmptyDocument, ParseFailure
from app.core.documents.ocr import OCR_OFF, OCR_ON_HINT, OcrCancelled, OcrOptions, OcrUnavailable, page_list
from app.core.errors import UserError

MISSING = "OCR found nothing"  # in the note on pages where OCR read no text
_WORD_CHAR = re.compile(r"[^\W_]")


def little_text(text: str) -> bool:
    """A PDF text layer too thin to be the page's text: fewer than ocr.MIN_LAYER_CHARS letters and digits (none,
    or a scanner's stamp)."""
    return len(_WORD_CHAR.findall(text)) < ocr.MIN_LAYER_CHARS


class _Tally:
    """Pages read by OCR, with the ones that gave nothing and the ones that failed, for the notes."""

    def __init__(self) -> None:
        self.empty: list[int] = []
        self.failed: list[tuple[int, str]] = []

    def read(self, page: int, pixels_of) -> str | None:
        """OCR the picture pixels_of() returns; None (and a note) when there is no text or it fails."""
        try:
            text = ocr.recognize(pixels_of()).text
        except (OcrCancelled, OcrUnavailable):
            raise
        except Exception as exc:  # noqa: BLE001 - one page must not fail the file
            self.failed.append((page, f"{type(exc).__name__}: {exc}"))
            return None
        if not text.strip():
            self.empty.append(page)
            return None
        return text

    def notes(self, what: str) -> list[str]:
        notes = []
        if self.empty:
            notes.append(f"no text found on {page_list(self.empty)} ({what}, {MISSING})")
        if self.failed:
            notes.append(f"OCR failed on {page_list([p for p, _ in self.failed])} ({self.failed[0][1]})")
        return notes


def ocr_pdf_pages(document, indexes: list[int], options: OcrOptions, name: str, notes: list[str],
                  lock) -> dict[int, str]:
    """{page index: text} for the 0-based `indexes` of an open pypdfium2 document, read by OCR one page at a time
    (`lock`, PDFium's, is held while a page renders, not while it is read). With OCR off, a note names the pages."""
    if not indexes:
        return {}
    if not options.enabled:
        notes.append(f"no text layer on {page_list([i + 1 for i in indexes])}; {OCR_OFF}")
        return {}
    tally = _Tally()
    found: dict[int, str] = {}

    def render(index: int) -> np.ndarray:
        with lock:
            page = document[index]
            try:
                return ocr.render_page(page)
            finally:
                page.close()

    for n, index in enumerate(indexes, 1):
        options.step(n, len(indexes), name)
        text = tally.read(index + 1, lambda: render(index))
        if text is not None:
            found[index] = text
    notes.extend(tally.notes("scanned image" if len(tally.empty) == 1 else "scanned images"))
    return found


def read_image(path: Path, options: OcrOptions, notes: list[str]) -> list[tuple[int | None, str]]:
    """An image file's text by OCR: (page, text) per frame with text (page = frame number in a multi-page TIFF,
    None for a single picture), through Hearth's image loader (EXIF orientation, 16-bit, size limit).

    Raises EmptyDocument when OCR finds no text, ParseFailure when the image cannot be read, OCR is off or OCR
    failed on every frame."""
    if not options.enabled:
        raise ParseFailure(f"an image: its text is read by OCR, and {OCR_OFF} ({OCR_ON_HINT})")
    from app.core import imageio

    tally = _Tally()
    sections: list[tuple[int | None, str]] = []
    count = 1
    try:
        for index, count, image in imageio.read_frames(path, "L", path.name):
            options.step(index + 1, count, path.name)
            text = tally.read(index + 1, lambda: np.asarray(image))
            if text is not None:
                sections.append((index + 1 if count > 1 else None, text))
            del image
    except UserError as exc:
        raise ParseFailure(str(exc).rstrip(".")) from exc
    if count > 1:
        notes.extend(tally.notes("image" if len(tally.empty) == 1 else "images"))
    if sections:
        return sections
    if tally.failed and not tally.empty:
        raise ParseFailure(f"OCR failed ({tally.failed[0][1]})")
    if count == 1:
        raise EmptyDocument(f"no text found in the image ({MISSING})")
    raise EmptyDocument("; ".join(notes))
