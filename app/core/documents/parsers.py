"""Turn a file into text sections: one per PDF page, one per heading section elsewhere.

Every parser returns a list of `Section`s or raises `ParseFailure` with a reason a user can act on. Offsets in a
section are into `Section.text`, which for a PDF is that page's extracted text.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

SUPPORTED = {".pdf": "PDF", ".txt": "text", ".text": "text", ".md": "Markdown", ".markdown": "Markdown",
             ".html": "HTML", ".htm": "HTML", ".xhtml": "HTML", ".docx": "Word"}


@dataclass
class Section:
    text: str
    page: int | None = None  # 1-based PDF page index; None for formats without pages
    heading: str = ""


class ParseFailure(Exception):
    """The file cannot be indexed; str(exc) is the reason shown next to it."""


def is_supported(path: Path) -> bool:
    return path.suffix.lower() in SUPPORTED


def parse_file(path: Path) -> list[Section]:
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise ParseFailure(f"unsupported file type '{suffix or path.name}' (Hearth reads PDF, TXT, Markdown, HTML and DOCX)")
    try:
        if suffix == ".pdf":
            return parse_pdf(path)
        if suffix == ".docx":
            return parse_docx(path)
        raw = path.read_bytes()
    except ParseFailure:
        raise
    except OSError as exc:
        raise ParseFailure(f"cannot read the file ({exc.strerror or exc})") from exc
    text = _decode(raw)
    if suffix in (".md", ".markdown"):
        return parse_markdown(text)
    if suffix in (".html", ".htm", ".xhtml"):
        return parse_html(text)
    return [Section(text)] if text.strip() else []


def _decode(raw: bytes) -> str:
    if b"\x00" in raw[:4096] and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ParseFailure("binary content in a text file")
    for encoding in ("utf-8-sig", "utf-16") if raw.startswith((b"\xff\xfe", b"\xfe\xff")) else ("utf-8-sig",):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            pass
    return raw.decode("latin-1")


# ---- PDF -------------------------------------------------------------------------------------------------------
# PDFium keeps global state and is not thread-safe: every call into it, from any thread (the indexer parses in a
# background thread, the GUI may parse too), holds this lock. Objects are closed explicitly inside it, so no
# finalizer ever calls into PDFium later from whichever thread the garbage collector happens to run on.
_PDFIUM_LOCK = threading.Lock()

_ENCRYPTED = "encrypted PDF: it needs a password (save an unlocked copy and add that)"


def parse_pdf(path: Path) -> list[Section]:
    """One section per page that has text, with its 1-based page number (PDFium through pypdfium2)."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    # A file object, not the path: Python opens it, so odd names (non-UTF-8 bytes, non-ASCII on Windows) work and
    # a missing/unreadable file is an OSError like for every other format.
    with open(path, "rb") as fh, _PDFIUM_LOCK:
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
            raise ParseFailure("malformed PDF: not a PDF, or damaged or truncated beyond repair") from exc
        try:
            count = len(document)
            texts: list[str | None] = []
            for index in range(count):
                texts.append(_pdfium_page_text(document, index))
        finally:
            document.close()  # closes its pages and text pages too
    sections: list[Section] = []
    failed = 0
    for index, text in enumerate(texts):
        if text is None:  # one broken page must not lose the others
            failed += 1
            continue
        text = _tidy_pdf_text(text)
        if text.strip():
            sections.append(Section(text, page=index + 1))
    if not sections:
        if count and failed == count:
            raise ParseFailure("malformed PDF: no page could be read")
        if count == 0:
            raise ParseFailure("malformed PDF: it has no pages")
        raise ParseFailure("no text layer (a scanned PDF?): run OCR on it first, e.g. with ocrmypdf")
    return sections


def _pdfium_page_text(document, index: int) -> str | None:
    """The page's text, or None when PDFium cannot load the page. Call with _PDFIUM_LOCK held."""
    page = textpage = None
    try:
        page = document[index]
        textpage = page.get_textpage()
        return textpage.get_text_bounded()
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
    import zipfile

    try:
        import docx  # python-docx
    except ImportError as exc:  # pragma: no cover - it is a dependency
        raise ParseFailure("DOCX support is missing (pip install python-docx)") from exc
    try:
        document = docx.Document(str(path))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ParseFailure(f"malformed DOCX: {exc}") from exc
    except Exception as exc:  # noqa: BLE001 - python-docx raises its own PackageNotFoundError etc.
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
