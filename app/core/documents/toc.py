"""Tables of contents and back-of-book indexes: passages that list topics with page numbers but answer nothing.

A table-of-contents page names every topic of a manual, so it shares words with almost any question about it and
both retrievers rank it high: over the R manuals, "What is R?" ranked R-intro's contents page ("1.1 The R
environment ........ 2 …") above the page that answers. Search demotes such passages (retriever.py, TOC_FACTOR)
instead of dropping them, so a query that only they match still finds them.

Detection reads the passage text only, so it works on collections indexed before it existed:

1. Dot leaders: a run of at least four dots (or middle dots, ellipses; spaces between them allowed, as in
   ". . . . 8") followed by a page number, arabic or roman ("Vectors ........ 8", "Classes ...... 16, 52").
   A passage with at least one such entry per LEADER_WORDS words is a listing (a short tail of a contents page,
   "21 5.4 The array() function ........ 22", too), and so is one with three or more entries, one per
   LONG_LEADER_WORDS words (R-FAQ's contents: "7.32 How do I save a plot to a PDF file? ........ 38", long titles).
   Stored passages join a paragraph's lines with spaces (chunker.clean), so this is counted over the whole text,
   not per line.
2. Lines ending in page numbers (text that still has its line breaks): at least LINES_MIN lines, LINE_SHARE of
   them ending in a page number after some words ("Vectors 8", "Classes, 16, 52"), those numbers mostly in
   ascending order (a contents page or an index letter runs forward; a column of measurements seldom does).

The thresholds were set on the R manuals' contents and index pages and on their body text (tests/core/documents/
test_toc.py): body pages with a few "see Section 3.2, page 14" references or code with "..." stay below them.
"""

from __future__ import annotations

import re

LEADER_WORDS = 15  # a listing has at least one dot-leader entry per this many words…
LONG_LEADER_WORDS = 25  # …or, with three or more, per this many (a FAQ's contents: long question titles)
LINES_MIN = 5
LINE_SHARE = 0.6
ASCENDING_SHARE = 0.7  # share of successive trailing page numbers that do not decrease (rule 2)

_PAGE = r"(?:\d{1,4}|[ivxlcdm]{1,7})(?:\s*[,–-]\s*\d{1,4})*"
_LEADER = re.compile(rf"(?:[.·…][ \t]?){{4,}}[ \t]*{_PAGE}(?![\w.])", re.IGNORECASE)
_LINE_PAGE = re.compile(r"[^\W\d_][^\n]*?[\s,]\s*(\d{1,4})(?:\s*[,–-]\s*\d{1,4})*\s*$")
_WORD = re.compile(r"\w+")


def leader_entries(text: str) -> int:
    """How many dot-leader-plus-page-number entries `text` holds (rule 1 of the module notes)."""
    return len(_LEADER.findall(text))


def is_listing(text: str) -> bool:
    """Whether a passage is a table of contents or an index (the module notes give the rules and thresholds).

    text: the passage as stored (any length; "" is not a listing). Returns a bool; raises nothing."""
    entries, words = leader_entries(text), len(_WORD.findall(text))
    if entries and (entries * LEADER_WORDS >= words or (entries >= 3 and entries * LONG_LEADER_WORDS >= words)):
        return True
    lines = [line.strip() for line in text.splitlines() if len(line.strip()) > 2]
    if len(lines) < LINES_MIN:
        return False
    pages = [int(m.group(1)) for m in map(_LINE_PAGE.search, lines) if m]
    if len(pages) < LINE_SHARE * len(lines):
        return False
    steps = list(zip(pages, pages[1:]))
    return sum(b >= a for a, b in steps) >= ASCENDING_SHARE * len(steps)
