"""Bytes of a text file (TXT, Markdown, HTML) to str, and the control-character clean-up every stored text gets.

Order of trust: a byte-order mark (UTF-8, UTF-16, UTF-32); for HTML the charset the page declares in a `<meta>`
(when the bytes decode with it); UTF-8; then the code page `charset-normalizer` detects (Windows-1252, -1251,
Shift-JIS, GB18030, UTF-16 without a BOM…); Windows-1252 as the last resort. Latin-1 is never used: its C1 range
(0x80-0x9F) is where Windows-1252 keeps its dashes and curly quotes, so reading such a file as Latin-1 turns them
into control characters.
"""

from __future__ import annotations

import codecs
import re

from app.core.documents.errors import ParseFailure

_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_META_CHARSET = re.compile(rb"<meta[^>]*?charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:\-]+)", re.IGNORECASE)
# The WHATWG Encoding Standard reads these labels as windows-1252 (browsers do too).
_AS_CP1252 = {"latin_1", "iso8859_1", "ascii", "cp1252"}

_BINARY = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f]")  # control bytes no text file has (ESC 0x1b is ANSI colour)
# C0 controls except \t \n (\r, \v, \f become line breaks first), DEL, and the C1 controls.
_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")
_BREAKS = {"\r\n": "\n", "\r": "\n", "\x0b": "\n", "\x0c": "\n\n", "\x85": "\n", "\u2028": "\n", "\u2029": "\n\n"}
_BREAK = re.compile("\r\n?|[\x0b\x0c\x85\u2028\u2029]")


def strip_controls(text: str) -> str:
    """text with line endings made \\n and every other C0/C1 control character removed (\\t and \\n stay)."""
    return _CONTROL.sub("", _BREAK.sub(lambda m: _BREAKS[m.group()], text))


def decode_text(raw: bytes, *, html: bool = False) -> str:
    """The text of a file's bytes (see the module docstring for the order). Control characters are not removed
    here (strip_controls does that for every format). Raises ParseFailure for binary content."""
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            return raw.decode(encoding, errors="replace")
    if b"\x00" in raw[:4096]:
        return _wide_or_binary(raw)
    if len(_BINARY.findall(raw[:4096])) * 10 > min(len(raw), 4096):
        raise ParseFailure("binary content in a text file")
    if html:
        declared = _declared_charset(raw)
        if declared:
            try:
                return raw.decode(declared)
            except UnicodeDecodeError:
                pass  # the declaration is wrong: trust the bytes
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        if _mostly_utf8(raw):
            return raw.decode("utf-8", errors="replace")
    return _detected(raw)


def _declared_charset(raw: bytes) -> str | None:
    match = _META_CHARSET.search(raw[:4096])
    if not match:
        return None
    try:
        name = codecs.lookup(match.group(1).decode("ascii")).name.replace("-", "_")
    except (LookupError, UnicodeDecodeError):
        return None
    if name in _AS_CP1252:
        return "cp1252"
    if name.startswith(("utf_16", "utf_32")):  # a <meta> that the parser could read is not UTF-16 (WHATWG)
        return "utf-8"
    return name


def _mostly_utf8(raw: bytes) -> bool:
    """True for UTF-8 with a few broken bytes (a file cut mid-character, one bad paste): under 2 % of its
    non-ASCII bytes are invalid. A legacy code page fails on nearly every non-ASCII byte instead."""
    high = len(raw) - len(raw.translate(None, bytes(range(0x80, 0x100))))
    bad = raw.decode("utf-8", errors="replace").count("\ufffd") - raw.count("\ufffd".encode())
    return high >= 20 and bad * 50 <= high


def _wide_or_binary(raw: bytes) -> str:
    """NUL bytes: UTF-16/32 without a byte-order mark, or not text at all."""
    from charset_normalizer import from_bytes

    best = from_bytes(raw).best()
    if best is not None and best.encoding.startswith(("utf_16", "utf_32")):
        return str(best)
    raise ParseFailure("binary content in a text file")


def _detected(raw: bytes) -> str:
    from charset_normalizer import from_bytes

    best = from_bytes(raw).best()
    if best is not None:
        return str(best)
    return raw.decode("cp1252", errors="replace")
