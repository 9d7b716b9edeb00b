"""Citations: the numbered sources a reply may cite, the prompt that carries them, and the check of the reply's
`[n]` markers against them.

Retrieved passages that are relevant enough become sources 1..N, best first; they are written into the question's
turn as `[n] (file, page)` blocks, and after the reply every `[n]` that names no given source is removed. When
nothing relevant is found the model is told so (NOTHING_FOUND_PROMPT) and no citation can survive. The grounding
of a whole conversation (which turn, how much room) is chat/documents.py; this module is pure text and data.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

MIN_SIMILARITY = 0.30  # cosine similarity below which a passage does not count as relevant (unless all words match)

# The answer prompt is shaped for small local models (0.5B–3B instruct), which copy what they see last: the sources
# come first under short numbered headers, the question, then a plain request. Tried on devset questions with
# Qwen2.5-Coder-0.5B-Instruct: the old closing "Answer (cite sources as [n]):" drew a bare "[1]"; its rule "say that
# the documents do not say, and do not make up an answer" was repeated word for word; a fixed "not covered" reply
# at the end became the answer to everything; an example sentence was copied; "[n] file, page" headers with "end
# each sentence with [n]" made it copy the header and the passage. This form gets sentences; when they cite
# nothing, attribution.attribute() adds citations by word overlap (marked as Hearth's, not the model's). The closing
# request asks for the excerpt number after each sentence: on all 50 devset questions (tuned-on for this choice) the
# model then cited a gold page itself in 0.42 of its answers against 0.30 with "cite the excerpt numbers in square
# brackets", and left 0.06 uncited instead of 0.42 (tests/benchmarks/rag_answers.py).
SYSTEM_PROMPT = (
    "You are a helpful assistant. Answer the user's question from the numbered excerpts of their documents. Write "
    "full sentences and put the excerpt number in square brackets after each sentence, like [1]. If the excerpts "
    "say nothing about the question, say so.")
ANSWER_FORMAT = ("Answer the question in one to three sentences. End each sentence with the number of the excerpt "
                 "it comes from in square brackets, like [2].")
# The second try, when the first reply was only citations, repeated the instructions or pasted the excerpts back
# (see answer_problem).
STRICT_FORMAT = (
    "Write one or two complete sentences that answer the question above, using the words of the excerpts. End "
    "each sentence with its excerpt number, for example [1].")
NOTHING_FOUND_PROMPT = (
    "You answer questions about the user's documents. A search of the documents found nothing relevant to this "
    "question. Tell the user that their documents do not seem to cover it. Do not cite any source and do not make "
    "up an answer.")

# A citation marker, "[2]" or "[1, 3]"; group 1 holds the numbers.
CITATION = re.compile(r"\[(\s*\d+(?:\s*[,;]\s*\d+)*\s*)\]")


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
    retried: bool = False  # the first reply was only citations or repeated the instructions: made again, stricter
    answer_problem: str = ""  # what was wrong with the model's reply after the retry: "bare" | "echo" | "list" | ""
    attributed: bool = False  # the model cited nothing: `cited` were added by Hearth from word overlap (attribute)
    extracted: bool = False  # the model wrote no answer (answer_problem): the text is the sources' best sentences
    searched_for: str = ""  # the query the search used when it was not the user's words (a rewritten follow-up)
    expansion_ms: dict = field(default_factory=dict)  # {"rewrite": ms, "hyde": ms} spent before the search

    def to_json(self) -> dict:
        """The dict stored in a message's info under "documents" (and printed by `--json`)."""
        return {"collections": list(self.collections), "nothing_found": self.nothing_found,
                "sources": [s.to_json() for s in self.sources], "cited": list(self.cited),
                "invalid_citations": list(self.invalid), "problems": list(self.problems),
                "retried": self.retried, "answer_problem": self.answer_problem or None,
                "attributed": self.attributed, "extracted": self.extracted,
                "searched_for": self.searched_for or None, "expansion_ms": dict(self.expansion_ms)}

    @classmethod
    def from_json(cls, data: dict | None) -> "DocumentsUse | None":
        """The inverse of to_json; None for anything that is not a dict (a message without documents)."""
        if not isinstance(data, dict):
            return None
        return cls(list(data.get("collections") or []), [Source.from_json(s) for s in data.get("sources") or []],
                   list(data.get("cited") or []), list(data.get("invalid_citations") or []),
                   bool(data.get("nothing_found")), list(data.get("problems") or []), bool(data.get("retried")),
                   data.get("answer_problem") or "", bool(data.get("attributed")), bool(data.get("extracted")),
                   data.get("searched_for") or "", dict(data.get("expansion_ms") or {}))

    @property
    def note(self) -> str:
        """One line for the user when there is something to say besides the sources."""
        if self.nothing_found:
            return f"Nothing relevant was found in {names(self.collections)}."
        what = {"bare": "answered with source numbers only", "echo": "repeated its instructions",
                "list": "pasted the excerpts back"}.get(self.answer_problem, "")
        if what and self.extracted:
            return (f"The model {what} instead of answering, twice; shown instead are the sentences of the sources "
                    "that best match the question.")
        if what:
            return f"The model {what} instead of answering: read the sources below."
        if self.attributed:
            none = "no existing source" if self.invalid else "no source"
            return f"The model cited {none}; Hearth added the citations from matching words."
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
    """A source as the model sees it: a short numbered header 'Excerpt n (file, page N):' and the passage."""
    return f"Excerpt {source.n} ({source.label}):\n{source.text.strip()}"


def answer_prompt(question: str, blocks: list[str], strict: bool = False) -> str:
    """The user turn of a documents answer: the numbered excerpts first, then the question, then how to answer
    (ANSWER_FORMAT, or STRICT_FORMAT for the second try)."""
    return ("Excerpts from the user's documents:\n\n" + "\n\n".join(blocks)
            + f"\n\nQuestion: {question.strip()}\n\n" + (STRICT_FORMAT if strict else ANSWER_FORMAT))


def build_messages(question: str, sources: list[Source], count_tokens=None, budget: int | None = None,
                   strict: bool = False) -> tuple[list[dict], list[Source]]:
    """Chat messages (system + user) carrying the numbered sources and the question (answer_prompt). With
    `count_tokens` (text → tokens) and `budget` (tokens), sources that do not fit are dropped from the end (the
    best come first; the first is always given). `strict`: the second try's format. Returns the messages and the
    sources actually given."""
    if not sources:
        return ([{"role": "system", "content": NOTHING_FOUND_PROMPT},
                 {"role": "user", "content": question}], [])
    given: list[Source] = []
    blocks: list[str] = []
    used = (count_tokens(SYSTEM_PROMPT + question + ANSWER_FORMAT) + 16) if count_tokens else 0
    for source in sources:
        block = format_source(source)
        cost = count_tokens(block) + 4 if count_tokens else 0
        if budget is not None and given and used + cost > budget:
            break
        used += cost
        given.append(source)
        blocks.append(block)
    user = answer_prompt(question, blocks, strict)
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}], given


_WORD = re.compile(r"\w+", re.UNICODE)


def _ngrams(text: str, n: int) -> list[str]:
    """Every run of `n` consecutive words of `text`, lower-cased, in order (repeats kept)."""
    words = _WORD.findall(text.lower())
    return [" ".join(words[i:i + n]) for i in range(len(words) - n + 1)]


def _word_runs(text: str, n: int) -> set[str]:
    return set(_ngrams(text, n))


_INSTRUCTION_RUNS = _word_runs(" ".join([SYSTEM_PROMPT, ANSWER_FORMAT, STRICT_FORMAT,
                                         "Answer (cite sources as [n]):", "Excerpts from the user's documents:",
                                         "say that the documents do not say, and do not make up an answer"]), 6)


_LISTED = re.compile(r"^\s*\[\s*\d+\s*\]\s*(\S.*)$", re.M)
_LABEL = re.compile(r"\bExcerpt\b|\.(?:pdf|html?|txt|md|docx?)\b|\bpages?\s+\d+", re.I)


def _pasted_list(text: str) -> bool:
    """Two or more lines that begin with a citation ("[1] …", "[2] …") and either say the same thing or are the
    excerpts' own headers ("[1] manual.pdf, page 183"), or any five words said three times over ("[2] Chapter 1:
    Introduction [4] Chapter 1: Introduction …"): the excerpts pasted back, not an answer. Distinct sentences
    each led by their citation are an answer (and so, measured on the devset, is "[1] [Excerpt 1] …": it holds the
    passage's words more often than an extracted sentence does)."""
    grams = Counter(_ngrams(CITATION.sub(" ", text), 5))
    if grams and max(grams.values()) >= 3:  # one heading pasted over and over
        return True
    listed = [" ".join(m.group(1).lower().split()) for m in _LISTED.finditer(text)]
    if len(listed) < 2:
        return False
    return len(set(listed)) < len(listed) or sum(bool(_LABEL.search(line)) and len(line.split()) <= 8
                                                 for line in listed) >= 2


def answer_problem(text: str) -> str:
    """What is wrong with a documents answer as a reply to a person: "bare" when it is only citations (fewer than
    three words once the [n] markers are gone: "[1]", "[1][2]."), "echo" when it repeats the answer prompt's
    instructions (a run of six of their words), "list" when it pastes the excerpts back, one per line, repeated or as
    their headers (_pasted_list), "" when none of these."""
    words = _WORD.findall(CITATION.sub(" ", text))
    if len(words) < 3:
        return "bare"
    if _word_runs(text, 6) & _INSTRUCTION_RUNS:
        return "echo"
    if _pasted_list(text):
        return "list"
    return ""


def map_citations(text: str, replace_with) -> str:
    """`text` with every citation marker (`[2]`, `[1, 3]`) replaced by replace_with(numbers) → str."""
    return CITATION.sub(lambda m: replace_with([int(x) for x in re.split(r"[,;]", m.group(1)) if x.strip()]),
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

    cleaned = CITATION.sub(fix, text)
    cleaned = re.sub(r"[ \t]+([.,;:!?])", r"\1", cleaned)
    cleaned = re.sub(r"[ \t]{2,}", " ", cleaned).strip()
    return cleaned, cited, invalid


def check_reply(text: str, use: DocumentsUse) -> tuple[str, DocumentsUse]:
    """Keep only the reply's citations of sources in `use`. Returns the cleaned text and a copy of `use` with
    `cited` / `invalid` filled (`use` itself is not changed: it may have been handed to another thread)."""
    cleaned, cited, invalid = parse_citations(text, use.sources)
    return cleaned, replace(use, cited=cited, invalid=invalid)
