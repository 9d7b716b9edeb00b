"""Split sections into chunks measured in the embedding model's tokens, on paragraph and sentence boundaries,
with overlap. Each chunk keeps its page, character span (into its section's text) and heading."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

from app.core.documents.parsers import Section

# A sentence ends at . ! ? (optionally followed by quotes/brackets) before whitespace; a paragraph at a blank line.
_PARAGRAPH = re.compile(r"\n[ \t]*\n\s*")
_SENTENCE_END = re.compile(r"(?<=[.!?;:])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9•\-–])|\n(?=\s*(?:[•\-–*]|\d+[.)])\s)")

TokenCounter = Callable[[Sequence[str]], list[int]]


@dataclass
class Chunk:
    text: str
    page_start: int | None
    page_end: int | None
    char_start: int
    char_end: int
    heading: str = ""
    tokens: int = 0

    @property
    def page(self) -> int | None:
        return self.page_start


def _units(text: str) -> list[tuple[int, int]]:
    """Sentence spans (start, end) in text, never crossing a paragraph break."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for para in _PARAGRAPH.split(text):
        start = text.find(para, pos) if para else pos
        if start < 0:
            start = pos
        end = start + len(para)
        pos = end
        s = start
        for match in _SENTENCE_END.finditer(text, start, end):
            if match.start() > s and text[s:match.start()].strip():
                spans.append(_strip(text, s, match.start()))
            s = match.end()
        if text[s:end].strip():
            spans.append(_strip(text, s, end))
    return spans


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _split_long(text: str, start: int, end: int, tokens: int, max_tokens: int) -> list[tuple[int, int]]:
    """A unit longer than max_tokens is cut at word boundaries into roughly equal token-sized pieces."""
    pieces = -(-tokens // max_tokens)
    target = max(1, (end - start) // pieces)
    spans, s = [], start
    while s < end:
        e = min(end, s + target)
        if e < end:
            space = text.rfind(" ", s + target // 2, e)
            if space <= s:
                space = text.find(" ", e, min(end, e + 200))
            e = space if space > s else e
        spans.append(_strip(text, s, e))
        s = e
    return [sp for sp in spans if sp[1] > sp[0]]


def _fit(text, s, e, n, max_tokens, count_tokens, depth=0) -> list[tuple[int, int, int]]:
    """(start, end, tokens) pieces of text[s:e], each within max_tokens."""
    if n <= max_tokens:
        return [(s, e, n)]
    if depth > 6:  # one enormous "word" (a URL, a table dump): cut by characters
        step = max(1, (e - s) * max_tokens // (2 * n))
        return [(a, min(e, a + step), max_tokens) for a in range(s, e, step)]
    parts = _split_long(text, s, e, n, max_tokens)
    if len(parts) <= 1:
        return _fit(text, s, e, n, max_tokens, count_tokens, 7)
    out: list[tuple[int, int, int]] = []
    for (ps, pe), pn in zip(parts, count_tokens([text[a:b] for a, b in parts])):
        out.extend(_fit(text, ps, pe, pn, max_tokens, count_tokens, depth + 1))
    return out


def clean(text: str) -> str:
    """Whitespace-normalised text (line breaks inside a paragraph become spaces)."""
    paragraphs = (" ".join(p.split()) for p in _PARAGRAPH.split(text))
    return "\n\n".join(p for p in paragraphs if p)


def chunk_sections(sections: list[Section], count_tokens: TokenCounter, max_tokens: int = 200,
                   overlap: int = 40) -> list[Chunk]:
    if max_tokens < 16:
        raise ValueError("max_tokens must be at least 16")
    overlap = max(0, min(overlap, max_tokens // 2))
    chunks: list[Chunk] = []
    for section in sections:
        text = section.text
        units = _units(text)
        if not units:
            continue
        counts = count_tokens([text[s:e] for s, e in units])
        # Split units that alone exceed the budget.
        fitted: list[tuple[int, int, int]] = []
        for (s, e), n in zip(units, counts):
            fitted.extend(_fit(text, s, e, n, max_tokens, count_tokens))
        i = 0
        while i < len(fitted):
            total, j = 0, i
            while j < len(fitted) and total + fitted[j][2] <= max_tokens:
                total += fitted[j][2]
                j += 1
            j = max(j, i + 1)
            start, end = fitted[i][0], fitted[j - 1][1]
            chunks.append(Chunk(clean(text[start:end]), section.page, section.page, start, end, section.heading,
                                sum(u[2] for u in fitted[i:j])))
            if j >= len(fitted):
                break
            # Next chunk starts with the trailing sentences that fit in `overlap` tokens (never the whole chunk).
            back, k = 0, j
            while k - 1 > i and back + fitted[k - 1][2] <= overlap:
                back += fitted[k - 1][2]
                k -= 1
            i = k
    return chunks
