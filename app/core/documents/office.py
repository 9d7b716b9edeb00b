"""Why a .docx file is not a readable Word document, told from its bytes before python-docx opens it.

A DOCX is a ZIP (Office Open XML) holding `word/document.xml`. What else turns up under that name:
- an OLE2 compound file (signature D0 CF 11 E0 A1 B1 1A E1): Office saves a password-protected DOCX as one, with
  `EncryptionInfo` and `EncryptedPackage` streams ([MS-OFFCRYPTO] 2.3.4); a Word 97-2003 `.doc` is one too, with a
  `WordDocument` stream ([MS-DOC] 2.1). The directory is read with `olefile`.
- a ZIP cut short (no end-of-central-directory record, or members that fail their CRC): damaged or truncated;
- a ZIP of another format: an Excel workbook, a PowerPoint deck, an OpenDocument text renamed .docx;
- RTF, HTML or plain text saved with a .docx name.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

from app.core.documents.errors import ParseFailure

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

NEEDS_PASSWORD = "encrypted DOCX: it needs a password (save an unprotected copy and add that)"
OLD_DOC = "old .doc format (Word 97-2003): open it in Word or LibreOffice and save as .docx"
DAMAGED = "damaged or truncated DOCX: the file is incomplete (copy or download it again)"

_OTHER_ZIPS = (("xl/workbook.xml", "an Excel workbook (.xlsx) named .docx: open it in Excel or save it as .docx"),
               ("ppt/presentation.xml", "a PowerPoint file (.pptx) named .docx"),
               ("content.xml", "an OpenDocument file (.odt) named .docx: save it as .docx"))
_OLE_STREAMS = (("Workbook", "an old Excel (.xls) file named .docx"),
                ("Book", "an old Excel (.xls) file named .docx"),
                ("PowerPoint Document", "an old PowerPoint (.ppt) file named .docx"))


def check_docx(path: Path) -> None:
    """Raise ParseFailure with the real reason when `path` is not an intact Word 2007+ document; return when it
    looks like one. Raises OSError when the file cannot be read."""
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head.startswith(OLE2_MAGIC):
        raise ParseFailure(_compound_file_reason(path))
    if not head.startswith(b"PK"):
        raise ParseFailure(_not_zip_reason(head))
    try:
        with zipfile.ZipFile(path) as package:
            names = set(package.namelist())
            if "word/document.xml" not in names:
                for member, reason in _OTHER_ZIPS:
                    if member in names:
                        raise ParseFailure(reason)
                raise ParseFailure("malformed DOCX: a ZIP file without word/document.xml")
            for name in sorted(n for n in names if n.endswith((".xml", ".rels"))):
                with package.open(name) as member:  # reading to the end checks the member's CRC-32
                    while member.read(1 << 20):
                        pass
    except (zipfile.BadZipFile, EOFError, zlib.error, ValueError, NotImplementedError) as exc:
        raise ParseFailure(DAMAGED) from exc
    except RuntimeError as exc:  # zipfile: "File ... is encrypted, password required for extraction"
        raise ParseFailure(NEEDS_PASSWORD) from exc


def _compound_file_reason(path: Path) -> str:
    import olefile

    try:
        with olefile.OleFileIO(str(path)) as ole:
            streams = {"/".join(entry) for entry in ole.listdir(streams=True, storages=False)}
    except Exception:  # noqa: BLE001 - olefile raises OSError/ValueError/struct errors on a broken directory
        # The signature is that of Word 97-2003 (and of encrypted Office files); with no readable directory the
        # old format is by far the likelier.
        return OLD_DOC
    if "EncryptionInfo" in streams or "EncryptedPackage" in streams:
        return NEEDS_PASSWORD
    if "WordDocument" in streams:
        return OLD_DOC
    for stream, reason in _OLE_STREAMS:
        if stream in streams:
            return reason
    return "not a Word document: an old Office compound file (save it as .docx)"


def _not_zip_reason(head: bytes) -> str:
    if not head:
        return "empty file"
    if head.startswith(b"{\\rtf"):
        return "an RTF file named .docx: save it as .docx"
    if head.startswith(b"%PDF"):
        return "a PDF file named .docx: rename it to .pdf"
    if head.lstrip().lower().startswith((b"<!doc", b"<html", b"<?xml")):
        return "an HTML/XML file named .docx (a web page saved as Word?): save it as .docx"
    return "malformed DOCX: not a Word document (the file is not a .docx package)"
