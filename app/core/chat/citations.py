"""Answer a question from a collection: retrieve, keep only relevant passages, number them as sources in the
prompt, ask the chat model, and check the reply's citations ([n] must name a source that was given).

When nothing relevant is found the model is told so, the answer says so (`nothing_found`), and no citation
survives: there are no sources to cite.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from app.core.documents.retriever import Hit

MIN_SIMILARITY = 0.30  # cosine similarity below which a passage does not count as relevant (unless all words match)

SYSTEM_PROMPT = (
    "You answer questions using only the numbered sources below, which are passages from the user's documents. "
    "After each statement, cite the source it comes from as [1], [2] and so on. If the sources do not contain the "
    "answer, say that the documents do not say, and do not make up an answer.")
NOTHING_FOUND_PROMPT = (
    "You answer questions about the user's documents. A search of the documents found nothing relevant to this "
    "question. Tell the user that their documents do not seem to cover it. Do not cite any source and do not make "
    "up an answer.")
NOTHING_FOUND_TEXT = "Nothing relevant was found in the documents for this question."

_CITATION = re.compile(r"\[(\s*\d+(?:\s*[,;]\s*\d+)*\s*)\]")


@dataclass
class Source:
    n: int
    file: str
    page: int | None
    page_end: int | None
    heading: str
    text: str
    score: float
    similarity: float | None = None

    @property
    def label(self) -> str:
        name = Path(self.file).name
        if self.page is None:
            return name if not self.heading else f"{name} — {self.heading}"
        if self.page_end and self.page_end != self.page:
            return f"{name}, pages {self.page}–{self.page_end}"
        return f"{name}, page {self.page}"

    def to_json(self) -> dict:
        return {"n": self.n, "file": self.file, "page": self.page, "score": round(self.score, 6),
                "heading": self.heading or None, "text": self.text}


@dataclass
class Answer:
    question: str
    text: str
    sources: list[Source]
    cited: list[int] = field(default_factory=list)  # source numbers the reply cites, in order of first use
    invalid: list[int] = field(default_factory=list)  # numbers the model made up (removed from text)
    nothing_found: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def citations(self) -> list[Source]:
        by_n = {s.n: s for s in self.sources}
        return [by_n[n] for n in self.cited]

    def to_json(self) -> dict:
        return {"question": self.question, "answer": self.text, "nothing_found": self.nothing_found,
                "cited": self.cited, "invalid_citations": self.invalid,
                "sources": [s.to_json() for s in self.sources]}


def relevant(hits: list[Hit], min_similarity: float = MIN_SIMILARITY) -> list[Hit]:
    """Passages worth showing the model: similar enough to the question, or containing all its keywords."""
    return [h for h in hits if h.full_match or (h.similarity is not None and h.similarity >= min_similarity)
            or (h.rerank is not None and h.rerank > 0)]


def to_sources(hits: list[Hit]) -> list[Source]:
    return [Source(i + 1, h.file, h.page, h.page_end, h.heading, h.text, h.score, h.similarity)
            for i, h in enumerate(hits)]


def format_source(source: Source) -> str:
    return f"[{source.n}] ({source.label})\n{source.text.strip()}"


def build_messages(question: str, sources: list[Source], count_tokens=None, budget: int | None = None
                   ) -> tuple[list[dict], list[Source]]:
    """Chat messages carrying the numbered sources; sources that do not fit `budget` tokens are dropped from the
    end (the best come first). Returns the messages and the sources actually given."""
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


def parse_citations(text: str, sources: list[Source]) -> tuple[str, list[int], list[int]]:
    """Keep only citations of given sources. Returns (text with invalid markers removed, cited, invalid)."""
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


def answer(question: str, hits: list[Hit], model, *, max_tokens: int = 384, temperature: float = 0.2,
           seed: int | None = 0, min_similarity: float = MIN_SIMILARITY, state=None) -> Answer:
    """Ask `model` (a ChatModel: count_tokens, chat, n_ctx) about `question` with the retrieved `hits`."""
    sources = to_sources(relevant(hits, min_similarity))
    budget = max(256, int(model.n_ctx) - max_tokens - 64)
    messages, given = build_messages(question, sources, model.count_tokens, budget)
    result = model.chat(messages, max_tokens=max_tokens, temperature=temperature, seed=seed, state=state)
    if not given:
        text = result.text.strip()
        # No sources: strip any bracketed number the model produced anyway.
        text, _, invalid = parse_citations(text, [])
        return Answer(question, f"{NOTHING_FOUND_TEXT}\n\n{text}".strip(), [], [], invalid, True,
                      result.prompt_tokens, result.completion_tokens)
    text, cited, invalid = parse_citations(result.text, given)
    return Answer(question, text, given, cited, invalid, False, result.prompt_tokens, result.completion_tokens)
