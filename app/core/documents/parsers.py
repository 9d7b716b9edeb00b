"""Turn a file into text sections: one per PDF page, one per heading section elsewhere.

Every parser returns a list of `Section`s or raises `ParseFailure` with a reason a user can act on. Offsets in a
section are into `Section.text`, which for a PDF is that page's extracted text.
"""

from __future__ import annotations

import re
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
def parse_pdf(path: Path) -> list[Section]:
    import logging

    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(str(path), strict=False)
        if reader.is_encrypted:
            try:  # many "encrypted" PDFs only restrict printing/copying and open with an empty password
                ok = reader.decrypt("")
            except Exception:  # noqa: BLE001 - missing crypto backend, unknown algorithm
                ok = 0
            if not ok:
                raise ParseFailure("encrypted PDF: it needs a password (save an unlocked copy and add that)")
        pages = reader.pages
        count = len(pages)
    except ParseFailure:
        raise
    except FileNotDecryptedError as exc:
        raise ParseFailure("encrypted PDF: it needs a password (save an unlocked copy and add that)") from exc
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError, RecursionError) as exc:
        raise ParseFailure(f"malformed PDF: {str(exc).strip() or type(exc).__name__}") from exc
    sections: list[Section] = []
    failed = 0
    for index in range(count):
        try:
            text = pages[index].extract_text() or ""
        except Exception:  # noqa: BLE001 - one broken page must not lose the others
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


def _tidy_pdf_text(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    text = re.sub(r"(\w)-\n(\w)", r"\1\2", text)  # words hyphenated across lines
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
