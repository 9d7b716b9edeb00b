"""Split sections into chunks measured in the embedding model's tokens, on paragraph and sentence boundaries,
with overlap. Each chunk keeps its page, character span (into its section's text) and heading."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

from app.core.documents.parsers import Section

# A sentence ends at . ! ? (optionally followed by quotes/brackets) before whitespace and a capital, a digit, a
# bullet or a letter of a script without case; at 。！？； (Chinese and Japanese full-width punctuation, with any
# closing quotes or brackets, no space needed); a paragraph at a blank line.
_PARAGRAPH = re.compile(r"\n[ \t]*\n\s*")
_CLOSERS = "」』）〕】”’"
_SENTENCE_END = re.compile(
    r"(?<=[.!?;:])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9•\-–À-ÞΑ-ΩА-Я\u0e00-\u0e7f\u3040-\u9fff\uac00-\ud7af])"
    r"|\n(?=\s*(?:[•\-–*]|\d+[.)])\s)"
    rf"|(?:(?<=[。！？；])|(?<=[。！？；][{_CLOSERS}]))(?![{_CLOSERS}])(?=.)", re.DOTALL)
# Where a run of text with no sentence end may be cut: after whitespace or CJK punctuation.
_SOFT_BREAK = re.compile(r"[\s，、。；：！？]")
_HAS_WORD = re.compile(r"[^\W_]")

TokenCounter = Callable[[Sequence[str]], list[int]]

# A chunk is also held to max_tokens × this many characters: a script the embedder's vocabulary lacks (Thai for
# MiniLM) comes out as one unknown token per word, and would otherwise make chunks of thousands of characters.
MAX_CHARS_PER_TOKEN = 8


@dataclass
class Chunk:
    text: str
    page_start: int | None
    page_end: int | None
    char_start: int
    char_end: int
    heading: str = ""
    tokens: int = 0
    title: str = ""  # the document's title (contextual header; headers.py)

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
    """A unit longer than max_tokens (a run with no sentence end) is cut into roughly equal token-sized pieces,
    each cut after whitespace or CJK punctuation near the target, else at a character boundary."""
    pieces = -(-tokens // max_tokens)
    target = max(1, (end - start) // pieces)
    spans, s = [], start
    while s < end:
        e = min(end, s + target)
        if e < end:
            e = _soft_break(text, s + target // 2, e) or _soft_break(text, e, min(end, e + 200), last=False) or e
        spans.append(_strip(text, s, e))
        s = e
    return [sp for sp in spans if sp[1] > sp[0]]


def _soft_break(text: str, lo: int, hi: int, last: bool = True) -> int | None:
    """The position just after the last (or first) soft break in text[lo:hi]; None when there is none."""
    found = None
    for match in _SOFT_BREAK.finditer(text, lo, hi):
        found = match.end()
        if not last:
            break
    return found if found is not None and found > lo else None


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

    model_tokens = count_tokens

    def count_tokens(texts: Sequence[str]) -> list[int]:  # noqa: F811 - the model's count, or by characters
        return [max(n, -(-len(t) // MAX_CHARS_PER_TOKEN)) for t, n in zip(texts, model_tokens(texts))]

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
            body = clean(text[start:end])
            if _HAS_WORD.search(body):  # a run of dots, dashes or symbols alone has nothing to find
                chunks.append(Chunk(body, section.page, section.page, start, end, section.heading,
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
