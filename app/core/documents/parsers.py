"""Turn a file into text sections: one per PDF page, one per heading section elsewhere, one per image frame.

Every parser returns a list of `Section`s or raises `ParseFailure` with a reason a user can act on. Offsets in a
section are into `Section.text`, which for a PDF is that page's extracted text. A PDF page without a text layer and
an image file (PNG, JPEG, TIFF: each frame a page) are read by OCR (ocr.py); their sections are marked `ocr`, and
pages that gave no text are described in `Parsed.notes`.
"""

from __future__ import annotations

import re
import threading
import zipfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from app.core.documents.decoding import decode_text, strip_controls
from app.core.documents.errors import EmptyDocument, ParseFailure
from app.core.documents.ocr import OCR_OFF, OCR_ON_HINT, OcrOptions, OcrUnavailable
from app.core.documents.pdf_layout import page_text

__all__ = ["SUPPORTED", "IMAGES", "Section", "Parsed", "ParseFailure", "EmptyDocument", "is_supported",
           "parse_file", "parse_document"]

IMAGES = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF"}  # read by OCR
SUPPORTED = {".pdf": "PDF", ".txt": "text", ".text": "text", ".md": "Markdown", ".markdown": "Markdown",
             ".html": "HTML", ".htm": "HTML", ".xhtml": "HTML", ".docx": "Word", **IMAGES}


@dataclass
class Section:
    text: str
    page: int | None = None  # 1-based PDF page (or image frame) index; None for formats without pages
    heading: str = ""
    ocr: bool = False  # the text was read by OCR from a picture of the page


@dataclass
class Parsed:
    """A file's sections, and one sentence per kind of page that gave no text (OCR found nothing, OCR failed,
    OCR is off), e.g. "no text found on page 2 (scanned image, OCR found nothing)"."""

    sections: list[Section]
    notes: list[str] = field(default_factory=list)

    @property
    def ocr_pages(self) -> set[int]:
        """The pages whose text OCR read (0 for an image without pages)."""
        return {s.page or 0 for s in self.sections if s.ocr}


def is_supported(path: Path) -> bool:
    return path.suffix.lower() in SUPPORTED


def parse_file(path: Path, ocr: OcrOptions | None = None) -> list[Section]:
    """parse_document's sections."""
    return parse_document(path, ocr).sections


def parse_document(path: Path, ocr: OcrOptions | None = None) -> Parsed:
    """The file's text sections, every one with text; control characters removed (\\t and \\n kept); with notes
    on pages that gave none. `ocr`: whether and how scanned pages and images are read (default: on, silently).

    Raises EmptyDocument when the file holds no text at all (0 bytes, a blank PDF, a document with nothing in it,
    a picture where OCR finds no text), ParseFailure with a reason a user can act on when it cannot be read,
    ocr.OcrCancelled when `ocr.cancelled()` turned true between two pages."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise ParseFailure(f"unsupported file type '{suffix or path.name}' "
                           "(Hearth reads PDF, TXT, Markdown, HTML, DOCX and PNG, JPEG and TIFF images)")
    ocr = ocr or OcrOptions()
    notes: list[str] = []
    try:
        if path.stat().st_size == 0:
            raise EmptyDocument("empty file (0 bytes)")
        if suffix == ".pdf":
            sections = parse_pdf(path, ocr, notes)
        elif suffix in IMAGES:
            from app.core.documents.scanned import read_image

            sections = [Section(text, page, ocr=True) for page, text in read_image(path, ocr, notes)]
        elif suffix == ".docx":
            sections = parse_docx(path)
        else:
            sections = _parse_text(path.read_bytes(), suffix)
    except ParseFailure:
        raise
    except OcrUnavailable as exc:
        raise ParseFailure(str(exc)) from exc
    except OSError as exc:
        raise ParseFailure(f"cannot read the file ({exc.strerror or exc})") from exc
    cleaned = []
    for section in sections:
        text = strip_controls(section.text)
        if text.strip():
            cleaned.append(Section(text, section.page, strip_controls(section.heading).strip(), section.ocr))
    if not cleaned:
        raise EmptyDocument("no text in the file")
    return Parsed(cleaned, notes)


def _parse_text(raw: bytes, suffix: str) -> list[Section]:
    html = suffix in (".html", ".htm", ".xhtml")
    text = decode_text(raw, html=html)
    if suffix in (".md", ".markdown"):
        return parse_markdown(text)
    if html:
        return parse_html(text)
    return [Section(text)]


# ---- PDF -------------------------------------------------------------------------------------------------------
# PDFium keeps global state and is not thread-safe: every call into it, from any thread (the indexer parses in a
# background thread, the GUI may parse too), holds this lock. Objects are closed explicitly inside it, so no
# finalizer ever calls into PDFium later from whichever thread the garbage collector happens to run on.
_PDFIUM_LOCK = threading.Lock()

_ENCRYPTED = "encrypted PDF: it needs a password (save an unlocked copy and add that)"


def parse_pdf(path: Path, ocr: OcrOptions | None = None, notes: list[str] | None = None) -> list[Section]:
    """One section per page that has text, with its 1-based page number (PDFium through pypdfium2); columns are
    read one after the other (pdf_layout). A page with (almost) no text layer but something drawn on it is read by
    OCR when `ocr.enabled` (scanned.ocr_pdf_pages); `notes` gets a sentence per kind of page that gave no text."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    from app.core.documents.scanned import MISSING, little_text, ocr_pdf_pages

    ocr = ocr or OcrOptions()
    notes = notes if notes is not None else []
    # A file object, not the path: Python opens it, so odd names (non-UTF-8 bytes, non-ASCII on Windows) work and
    # a missing/unreadable file is an OSError like for every other format.
    with open(path, "rb") as fh:
        with _PDFIUM_LOCK:
            head = fh.read(1024)
            fh.seek(0)
            try:
                # password=None: PDFium still opens PDFs whose user password is empty ("encrypted" only to restrict
                # printing or copying).
                document = pdfium.PdfDocument(fh)
            except pdfium.PdfiumError as exc:
                code = getattr(exc, "err_code", None)
                if code == pdfium_c.FPDF_ERR_PASSWORD:
                    raise ParseFailure(_ENCRYPTED) from exc
                if code == pdfium_c.FPDF_ERR_SECURITY:
                    raise ParseFailure("encrypted PDF: unsupported encryption (save an unlocked copy and add that)") \
                        from exc
                if code == pdfium_c.FPDF_ERR_FILE:
                    raise ParseFailure("cannot read the file") from exc
                if code == pdfium_c.FPDF_ERR_SUCCESS:  # it opened, but pypdfium2 refuses a document with no pages
                    raise ParseFailure("malformed PDF: it has no pages") from exc
                raise ParseFailure(_unopenable_reason(head, fh)) from exc
            try:
                count = len(document)
                texts: list[str | None] = []
                for index in range(count):
                    texts.append(_pdfium_page_text(document, index))
                drawn = [t is not None and little_text(t) and _page_pictured(document, i, not t.strip())
                         for i, t in enumerate(texts)]
                blank = count > 0 and not any(t and t.strip() for t in texts) and not any(drawn)
            except BaseException:
                document.close()
                raise
        try:  # the lock is taken page by page: OCR takes seconds a page and other threads may need PDFium
            read = ocr_pdf_pages(document, [i for i in range(count) if drawn[i]], ocr, path.name, notes,
                                 _PDFIUM_LOCK)
        finally:
            with _PDFIUM_LOCK:
                document.close()  # closes its pages and text pages too
    sections: list[Section] = []
    failed = 0
    for index, text in enumerate(texts):
        if text is None:  # one broken page must not lose the others
            failed += 1
            continue
        text = _tidy_pdf_text(text)
        scanned = read.get(index)
        if scanned is not None and len(re.findall(r"\w", scanned)) > len(re.findall(r"\w", text)):
            sections.append(Section(scanned, page=index + 1, ocr=True))
        elif text.strip():
            sections.append(Section(text, page=index + 1))
    if not sections:
        if count and failed == count:
            raise ParseFailure("malformed PDF: no page could be read")
        if count == 0:
            raise ParseFailure("malformed PDF: it has no pages")
        if blank:
            raise EmptyDocument(f"no text: {'the page is' if count == 1 else f'all {count} pages are'} blank")
        if not ocr.enabled:
            raise ParseFailure(f"no text layer (a scanned PDF?); {OCR_OFF} ({OCR_ON_HINT})")
        if any(MISSING in note for note in notes):
            raise EmptyDocument("; ".join(notes))
        raise ParseFailure("; ".join(notes) or "no text in the file")
    return sections


def _page_pictured(document, index: int, no_text: bool) -> bool:
    """The page may hold text OCR can read: it has a picture (an image, or a form that may hold one), or it has no
    text at all but something drawn (text drawn as outlines). A page of a few words (a page number, a heading) and
    vector figures is not read. Call with _PDFIUM_LOCK held."""
    import pypdfium2.raw as pdfium_c

    page = None
    try:
        page = document[index]
        count = pdfium_c.FPDFPage_CountObjects(page.raw)
        for i in range(count):
            kind = pdfium_c.FPDFPageObj_GetType(pdfium_c.FPDFPage_GetObject(page.raw, i))
            if kind in (pdfium_c.FPDF_PAGEOBJ_IMAGE, pdfium_c.FPDF_PAGEOBJ_FORM):
                return True
        return no_text and count > 0
    except Exception:  # noqa: BLE001 - a page PDFium cannot load has nothing to read
        return False
    finally:
        if page is not None:
            page.close()


def _unopenable_reason(head: bytes, fh) -> str:
    """Why PDFium could not open the file, from its first and last bytes."""
    if b"%PDF-" not in head:
        return "malformed PDF: not a PDF file (it does not start with %PDF): is the extension wrong?"
    fh.seek(0, 2)
    size = fh.tell()
    fh.seek(max(0, size - 2048))
    if b"%%EOF" not in fh.read():
        return "malformed PDF: damaged or truncated, the file ends early (copy or download it again)"
    return "malformed PDF: damaged beyond repair"


def _pdfium_page_text(document, index: int) -> str | None:
    """The page's text in reading order, or None when PDFium cannot load the page. Call with _PDFIUM_LOCK held."""
    page = textpage = None
    try:
        page = document[index]
        textpage = page.get_textpage()
        return page_text(textpage)
    except Exception:  # noqa: BLE001 - PdfiumError, or anything else one damaged page throws
        return None
    finally:
        if textpage is not None:
            textpage.close()
        if page is not None:
            page.close()


_PDF_HYPHEN = re.compile("[\x02\ufffe\u00ad]\n?")  # PDFium's marks for a word hyphenated at a line end
_PDF_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # e.g. \x14/\x15 for big brackets in formulas
_PDF_LEADER = re.compile(r"\.(?: \.){3,}")  # table-of-contents leaders ". . . . ." -> "....."
# A line of nothing but box-drawing, geometric or dingbat glyphs is decoration (e.g. the corners of texinfo's
# example boxes, "☛ ✟"): emptied, so it separates paragraphs as pypdf's unmapped glyphs (whitespace) did.
_PDF_ORNAMENT_LINE = re.compile("^[ \t\u2500-\u27bf]+$", re.MULTILINE)


def _tidy_pdf_text(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _PDF_HYPHEN.sub("", text)  # PDFium already joined the two halves of the word onto one line
    text = _PDF_CONTROL.sub("", text)
    text = _PDF_LEADER.sub(lambda m: m.group().replace(" ", ""), text)
    text = _PDF_ORNAMENT_LINE.sub("", text)
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"(\w)-\n(\w)", r"\1\2", text)  # words hyphenated across lines, as a plain "-"
    return text


# ---- Markdown --------------------------------------------------------------------------------------------------
_MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


def parse_markdown(text: str) -> list[Section]:
    sections: list[Section] = []
    heading, lines, in_code = "", [], False
    for line in text.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            in_code = not in_code
        match = None if in_code else _MD_HEADING.match(line)
        if match:
            if "".join(lines).strip():
                sections.append(Section("\n".join(lines), heading=heading))
            heading, lines = match.group(2).strip(), [match.group(2).strip()]
        else:
            lines.append(line)
    if "".join(lines).strip():
        sections.append(Section("\n".join(lines), heading=heading))
    return sections


# ---- HTML ------------------------------------------------------------------------------------------------------
class _HTMLText(HTMLParser):
    BLOCK = {"p", "div", "br", "li", "tr", "table", "section", "article", "pre", "blockquote", "h1", "h2", "h3",
             "h4", "h5", "h6", "ul", "ol", "dd", "dt", "header", "footer", "main", "nav", "title"}
    SKIP = {"script", "style", "noscript", "template", "svg", "head"}
    HEADINGS = {"h1", "h2", "h3", "h4"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: list[Section] = []
        self.parts: list[str] = []
        self.heading = ""
        self.skip = 0
        self.in_heading: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.skip += 1
        elif tag in self.HEADINGS and not self.skip:
            self._flush()
            self.in_heading = []
        if tag in self.BLOCK:
            self.parts.append("\n\n" if tag in ("p", "div", "section", "h1", "h2", "h3", "h4") else "\n")

    def handle_endtag(self, tag):
        if tag in self.SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in self.HEADINGS and self.in_heading is not None:
            self.heading = " ".join("".join(self.in_heading).split())
            self.in_heading = None
        if tag in self.BLOCK:
            self.parts.append("\n\n" if tag in ("p", "div", "h1", "h2", "h3", "h4") else "\n")

    def handle_data(self, data):
        if self.skip:
            return
        if self.in_heading is not None:
            self.in_heading.append(data)
        self.parts.append(data)

    def _flush(self):
        text = re.sub(r"[ \t]+", " ", "".join(self.parts))
        text = re.sub(r"\n\s*\n\s*", "\n\n", text).strip()
        if text:
            self.sections.append(Section(text, heading=self.heading))
        self.parts = []

    def close(self):
        super().close()
        self._flush()


def parse_html(text: str) -> list[Section]:
    parser = _HTMLText()
    try:
        parser.feed(text)
        parser.close()
    except Exception as exc:  # noqa: BLE001 - html.parser is lenient; anything here means garbage
        raise ParseFailure(f"malformed HTML: {exc}") from exc
    return parser.sections


# ---- DOCX ------------------------------------------------------------------------------------------------------
def parse_docx(path: Path) -> list[Section]:
    """Sections by heading (Word's Heading/Title styles); tables after the paragraphs, a row per line."""
    from app.core.documents.office import DAMAGED, check_docx

    try:
        import docx  # python-docx
    except ImportError as exc:  # pragma: no cover - it is a dependency
        raise ParseFailure("DOCX support is missing (pip install python-docx)") from exc
    check_docx(path)  # the real reason for an encrypted, old-format, truncated or mislabelled file
    try:
        document = docx.Document(str(path))
    except (zipfile.BadZipFile, KeyError, ValueError, EOFError) as exc:
        raise ParseFailure(DAMAGED) from exc
    except Exception as exc:  # noqa: BLE001 - python-docx raises its own PackageNotFoundError, lxml errors etc.
        raise ParseFailure(f"malformed DOCX: {type(exc).__name__}: {exc}") from exc
    sections: list[Section] = []
    heading, paras = "", []
    for para in document.paragraphs:
        style = (para.style.name if para.style is not None else "") or ""
        text = para.text.strip()
        if style.lower().startswith(("heading", "title")) and text:
            if paras:
                sections.append(Section("\n\n".join(paras), heading=heading))
            heading, paras = text, [text]
        elif text:
            paras.append(text)
    for table in document.tables:
        for row in table.rows:
            cells = [c.text.strip() for c in row.cells if c.text.strip()]
            if cells:
                paras.append(" | ".join(cells))
    if paras:
        sections.append(Section("\n\n".join(paras), heading=heading))
    return sections
