"""Repairs of a documents answer that the model's own reply cannot give: citations for a reply that cites nothing
(attribute), and, when the model gave no answer at all, the sources' own sentences that best match the question
(extract_answer).

Both work on sentences of prose only: fenced and inline code is never split, searched or cited into, and a full
stop inside a file name or an abbreviation ("fit.log", "(p. 144)") does not end a sentence. Words are compared by
their first six letters (a crude stemmer: "configure"/"configuration"), stopwords left out (retriever.keywords).
Pure text: no model, no store.
"""

from __future__ import annotations

import math
import re

from app.core.chat.citations import CITATION

_CODE = re.compile(r"```.*?(?:```|\Z)|`[^`\n]*`", re.S)
# A sentence ends at . ! ? followed by the end, or by white space and then something that is not a lower-case letter
# or a digit ("fit.log" and "(p. 144)" go on); a line break always ends one.
_END = re.compile(r"[.!?]+(?=\s*\Z|\s+[^a-z0-9\s])|\n")
_TRAILING = re.compile(r"[\s.!?:;,]*\Z")
PREFIX = 6  # letters a word is compared by


def _stems(text: str) -> set[str]:
    from app.core.documents.retriever import keywords

    return {w[:PREFIX] for w in keywords(CITATION.sub(" ", text))}


def sentences(text: str) -> list[tuple[int, int, bool]]:
    """Split `text` into spans (start, end, is_code) that cover it: prose sentences (see the module docstring) and
    fenced code blocks, which are spans of their own. Inline code stays inside its sentence but never ends it."""
    masked = list(text)
    fenced: list[tuple[int, int]] = []
    for m in _CODE.finditer(text):
        masked[m.start():m.end()] = "x" * (m.end() - m.start())
        if m.group(0).startswith("```"):
            fenced.append((m.start(), m.end()))
    masked_text = "".join(masked)
    cuts = {0, len(text)}
    for start, end in fenced:
        cuts.update((start, end))
    cuts.update(m.end() for m in _END.finditer(masked_text))
    ordered = sorted(cuts)
    spans = []
    for start, end in zip(ordered, ordered[1:]):
        if start < end:
            spans.append((start, end, any(s <= start and end <= e for s, e in fenced)))
    return spans


def attribute(text: str, sources: list, question: str = "", min_share: float = 0.5, min_words: int = 2
              ) -> tuple[str, list[int]]:
    """Citations for a reply that cites nothing (post-hoc attribution by word overlap, the simplest form of
    attributing generated text to retrieved evidence, cf. Gao et al., "RARR", ACL 2023). Each prose sentence gets
    `[n]` of the source (citations.Source) sharing the most of its content words, counting only the words the
    sentence adds to the `question` (a sentence that restates the question is not evidence of anything), when that
    source holds at least `min_share` of them and at least `min_words`. Code is never cited into. Returns (text
    with the citations, the numbers added in order of first use)."""
    asked = _stems(question)
    vocab = {s.n: _stems(s.text) for s in sources}
    added: list[int] = []
    out: list[str] = []
    for start, end, code in sentences(text):
        sentence = text[start:end]
        words = _stems(sentence) - asked
        if code or len(words) < min_words or not vocab:
            out.append(sentence)
            continue
        n, shared = max(((n, len(words & v)) for n, v in vocab.items()), key=lambda x: (x[1], -x[0]))
        if shared < min_words or shared < min_share * len(words):
            out.append(sentence)
            continue
        if n not in added:
            added.append(n)
        tail = _TRAILING.search(sentence).start()
        out.append(f"{sentence[:tail]} [{n}]{sentence[tail:]}")
    return "".join(out), added


def extract_answer(question: str, sources: list, max_sentences: int = 2, max_words: int = 60
                   ) -> tuple[str, list[int]]:
    """An extractive answer from the sources when the model wrote none (only citations, its instructions, or the
    excerpts pasted back): the sentences of the sources that share the most question words, best first, each quoted
    and cited. Scoring: shared question stems / sqrt(sentence stems) (a length-normalised overlap, as in classic
    sentence-retrieval baselines, cf. Allan et al., "Retrieval and novelty detection at the sentence level",
    SIGIR 2003), earlier sources first on ties; sentences over `max_words` words or with fewer than 3 are skipped;
    a sentence after the first needs two shared words and 0.6 of the best score; questions are skipped (a FAQ's
    heading repeats the question, it does not answer it), and every sentence must share two question words (one when
    the question has only one). Returns (the text, the cited source numbers), or ("", []) when no sentence
    qualifies."""
    asked = _stems(question)
    need = min(2, len(asked))  # one shared word ("default") is chance, not an answer
    scored = []
    for source in sources:
        text = " ".join(source.text.split())
        for start, end, code in sentences(text):
            sentence = text[start:end].strip()
            count = len(sentence.split())
            if code or count < 3 or count > max_words or sentence.rstrip("”\"')").endswith("?"):
                continue  # a question (a FAQ's heading) answers nothing
            stems = _stems(sentence)
            shared = len(asked & stems)
            if shared and shared >= need:
                scored.append((shared / math.sqrt(len(stems) or 1), -source.n, sentence, source.n, shared))
    scored.sort(key=lambda x: (x[0], x[1]), reverse=True)
    picked, seen = [], set()
    for score, _rank, sentence, n, shared in scored:
        if sentence.lower() in seen or (picked and (shared < 2 or score < 0.6 * scored[0][0])):
            continue
        seen.add(sentence.lower())
        picked.append((sentence, n))
        if len(picked) == max_sentences:
            break
    if not picked:
        return "", []
    text = " ".join(f"“{sentence}” [{n}]" for sentence, n in picked)
    return text, list(dict.fromkeys(n for _s, n in picked))
