"""Citations: the numbered sources a reply may cite, the prompt that carries them, and the check of the reply's
`[n]` markers against them.

Retrieved passages that are relevant enough become sources 1..N, best first; they are written into the question's
turn as `[n] (file, page)` blocks, and after the reply every `[n]` that names no given source is removed. When
nothing relevant is found the model is told so (NOTHING_FOUND_PROMPT) and no citation can survive. The grounding
of a whole conversation (which turn, how much room) is chat/documents.py; this module is pure text and data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

MIN_SIMILARITY = 0.30  # cosine similarity below which a passage does not count as relevant (unless all words match)

SYSTEM_PROMPT = (
    "You answer questions using only the numbered sources below, which are passages from the user's documents. "
    "After each statement, cite the source it comes from as [1], [2] and so on. If the sources do not contain the "
    "answer, say that the documents do not say, and do not make up an answer.")
NOTHING_FOUND_PROMPT = (
    "You answer questions about the user's documents. A search of the documents found nothing relevant to this "
    "question. Tell the user that their documents do not seem to cover it. Do not cite any source and do not make "
    "up an answer.")

_CITATION = re.compile(r"\[(\s*\d+(?:\s*[,;]\s*\d+)*\s*)\]")


@dataclass
class Source:
    """One numbered passage given to the model: `n` is the number it is cited by ([n], 1-based), `page`/`page_end`
    the 1-based PDF pages it spans (None for files without pages), `score` what ranked it, `similarity` its cosine
    similarity to the question when the dense search saw it, `ocr` whether its text was read by OCR (a scanned
    page, an image)."""

    n: int
    file: str
    page: int | None
    page_end: int | None
    heading: str
    text: str
    score: float
    similarity: float | None = None
    ocr: bool = False

    @property
    def where(self) -> str:
        """'page 3', 'pages 3–4', the heading, or ''; with ' (OCR)' after it when OCR read the text."""
        if self.page is None:
            where = self.heading or ""
        elif self.page_end and self.page_end != self.page:
            where = f"pages {self.page}–{self.page_end}"
        else:
            where = f"page {self.page}"
        return f"{where} (OCR)".lstrip() if self.ocr else where

    @property
    def label(self) -> str:
        """'manual.pdf, page 3', 'manual.pdf, pages 3–4', 'notes.md — Heading', 'scan.pdf, page 2 (OCR)'."""
        name = Path(self.file).name
        if self.page is None and not self.heading:
            return f"{name} (OCR)" if self.ocr else name
        return f"{name}, {self.where}" if self.page is not None else f"{name} — {self.where}"

    def to_json(self) -> dict:
        """A JSON-ready dict: n, file, page, page_end, score (6 decimals), heading (None when empty), text, ocr."""
        return {"n": self.n, "file": self.file, "page": self.page, "page_end": self.page_end,
                "score": round(self.score, 6), "heading": self.heading or None, "text": self.text, "ocr": self.ocr}

    @classmethod
    def from_json(cls, data: dict) -> "Source":
        """The inverse of to_json (a missing page_end is the page; a missing score 0; a missing ocr False)."""
        return cls(int(data["n"]), data["file"], data.get("page"), data.get("page_end", data.get("page")),
                   data.get("heading") or "", data.get("text", ""), float(data.get("score") or 0.0),
                   ocr=bool(data.get("ocr")))


@dataclass
class DocumentsUse:
    """What a reply drew on: persisted in the assistant message's info (JSON) and shown by the GUI and the CLI.

    `cited` lists the source numbers the reply cites in order of first use; `invalid` the numbers it made up
    (removed from its text); `problems` one sentence per attached collection that was left out."""

    collections: list[str]  # the collections that were searched
    sources: list[Source] = field(default_factory=list)  # numbered passages the model was given
    cited: list[int] = field(default_factory=list)
    invalid: list[int] = field(default_factory=list)
    nothing_found: bool = False
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        """The dict stored in a message's info under "documents" (and printed by `--json`)."""
        return {"collections": list(self.collections), "nothing_found": self.nothing_found,
                "sources": [s.to_json() for s in self.sources], "cited": list(self.cited),
                "invalid_citations": list(self.invalid), "problems": list(self.problems)}

    @classmethod
    def from_json(cls, data: dict | None) -> "DocumentsUse | None":
        """The inverse of to_json; None for anything that is not a dict (a message without documents)."""
        if not isinstance(data, dict):
            return None
        return cls(list(data.get("collections") or []), [Source.from_json(s) for s in data.get("sources") or []],
                   list(data.get("cited") or []), list(data.get("invalid_citations") or []),
                   bool(data.get("nothing_found")), list(data.get("problems") or []))

    @property
    def note(self) -> str:
        """One line for the user when there is something to say besides the sources."""
        if self.nothing_found:
            return f"Nothing relevant was found in {names(self.collections)}."
        return ""


def names(collections: list[str]) -> str:
    """'“a”', '“a” and “b”', '“a”, “b” and “c”'; 'the attached collections' for none."""
    quoted = [f"“{c}”" for c in collections]
    if len(quoted) <= 1:
        return quoted[0] if quoted else "the attached collections"
    return ", ".join(quoted[:-1]) + " and " + quoted[-1]


def relevant(hits: list, min_similarity: float = MIN_SIMILARITY) -> list:
    """The retriever's hits worth showing the model: cosine similarity ≥ `min_similarity`, or containing every
    meaningful query word (BM25 full match), or a positive cross-encoder score. Order is kept."""
    return [h for h in hits if h.full_match or (h.similarity is not None and h.similarity >= min_similarity)
            or (h.rerank is not None and h.rerank > 0)]


def to_sources(hits: list) -> list[Source]:
    """Number retriever hits 1..N in their order."""
    return [Source(i + 1, h.file, h.page, h.page_end, h.heading, h.text, h.score, h.similarity,
                   ocr=getattr(h, "ocr", False)) for i, h in enumerate(hits)]


def format_source(source: Source) -> str:
    """A source as the model sees it: '[n] (file, page N)' and the passage on the next line."""
    return f"[{source.n}] ({source.label})\n{source.text.strip()}"


def build_messages(question: str, sources: list[Source], count_tokens=None, budget: int | None = None
                   ) -> tuple[list[dict], list[Source]]:
    """Chat messages (system + user) carrying the numbered sources and the question. With `count_tokens`
    (text → tokens) and `budget` (tokens), sources that do not fit are dropped from the end (the best come first;
    the first is always given). Returns the messages and the sources actually given."""
    if not sources:
        return ([{"role": "system", "content": NOTHING_FOUND_PROMPT},
                 {"role": "user", "content": question}], [])
    given: list[Source] = []
    blocks: list[str] = []
    used = (count_tokens(SYSTEM_PROMPT + question) + 32) if count_tokens else 0
    for source in sources:
        block = format_source(source)
        cost = count_tokens(block) + 4 if count_tokens else 0
        if budget is not None and given and used + cost > budget:
            break
        used += cost
        given.append(source)
        blocks.append(block)
    user = "Sources:\n\n" + "\n\n".join(blocks) + f"\n\nQuestion: {question}\nAnswer (cite sources as [n]):"
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}], given


def map_citations(text: str, replace_with) -> str:
    """`text` with every citation marker (`[2]`, `[1, 3]`) replaced by replace_with(numbers) → str."""
    return _CITATION.sub(lambda m: replace_with([int(x) for x in re.split(r"[,;]", m.group(1)) if x.strip()]),
                         text)


def parse_citations(text: str, sources: list[Source]) -> tuple[str, list[int], list[int]]:
    """Keep only citations of given sources. `[2, 7]` with only 2 given becomes `[2]`; `[9]` is removed with the
    space before it. Returns (cleaned text, cited numbers in order of first use, invalid numbers)."""
    valid = {s.n for s in sources}
    cited: list[int] = []
    invalid: list[int] = []

    def fix(match: re.Match) -> str:
        numbers = [int(x) for x in re.split(r"[,;]", match.group(1)) if x.strip()]
        keep = [n for n in numbers if n in valid]
        for n in numbers:
            target = cited if n in valid else invalid
            if n not in target:
                target.append(n)
        return "[" + ", ".join(str(n) for n in keep) + "]" if keep else ""

    cleaned = _CITATION.sub(fix, text)
    cleaned = re.sub(r"[ \t]+([.,;:!?])", r"\1", cleaned)
    cleaned = re.sub(r"[ \t]{2,}", " ", cleaned).strip()
    return cleaned, cited, invalid


def check_reply(text: str, use: DocumentsUse) -> tuple[str, DocumentsUse]:
    """Keep only the reply's citations of sources in `use`. Returns the cleaned text and a copy of `use` with
    `cited` / `invalid` filled (`use` itself is not changed: it may have been handed to another thread)."""
    cleaned, cited, invalid = parse_citations(text, use.sources)
    return cleaned, replace(use, cited=cited, invalid=invalid)
