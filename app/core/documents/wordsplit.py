"""Spaces OCR lost between words: "technicianwas" → "technician was".

PP-OCR's recognition model (RapidOCR's bundled PP-OCRv6, trained mostly on Chinese, where lines have no spaces)
sometimes reads two English words as one. Keyword search then finds neither word. No RapidOCR option brings the
space back (tests/benchmarks/ocr.py; issue 16: larger line crops and word boxes keep the merge, word boxes only
split at spaces the model already wrote), so OCR'd text is split afterwards.

The split is wordninja's (PyPI `wordninja`, Derek Anderson's; the dynamic program of Generic Human's
StackOverflow answer 8870261): the most probable sequence of English words under a Zipf unigram model of 126k
words from Wikipedia. It is applied only where it is safe:

- a token of letters only, at least MIN_LENGTH long, not joined to digits, '_', '-', '/', '@', an apostrophe or
  a dot (identifiers, file names, URLs, e-mail addresses stay), except a full stop before a capital (a sentence
  end the space after was lost from: "evaporator.Cleanthe");
- all lower case, or one capital then lower case when a part is a function word ("Thetechnician", "Cleanthe"; a
  capitalised "Quillfeather" may be a name and stays); CamelCase and ACRONYMS stay;
- not itself a word of wordninja's vocabulary (names and rare words in it stay);
- the split has two to MAX_PARTS parts, each among the COMMON_RANK most frequent words, and a part shorter than
  three letters is a function word (SHORT_WORDS): "ofthe" → "of the", but an unknown name is not cut into
  syllables.
"""

from __future__ import annotations

import functools
import math
import re

MIN_LENGTH = 5
MAX_PARTS = 12  # OCR can run a whole line together
COMMON_RANK = 30_000
# Function words: the only parts shorter than four letters a split may have ("sub setting", "real loc" are not).
SHORT_WORDS = frozenset("""a i an as at be by do go he if in is it me my no of on or so to up us we all and any are but
can did for get had has her him his how its let may new not now off old one our out per put say see she the too two
use via was way who why yes yet you""".split())
_TOKEN = re.compile(r"[A-Za-z]+")
_JOINERS = frozenset("_-/@'’")


@functools.lru_cache(maxsize=1)
def _model():
    import wordninja

    model = wordninja.DEFAULT_LANGUAGE_MODEL
    # wordninja's cost of the word of rank r (0-based) among n: log((r + 1) · log n).
    limit = math.log((COMMON_RANK + 1) * math.log(len(model._wordcost)))
    return model, limit


def _alone(text: str, start: int, end: int) -> bool:
    """Whether the letters text[start:end] stand alone: not part of an identifier, path, address or a dotted name
    ("data.frame", "www.example.com"); a full stop before a capital is a sentence end ("heater.The")."""
    before = text[start - 1] if start else " "
    after = text[end] if end < len(text) else " "
    next_ = text[end + 1] if end + 1 < len(text) else " "
    if before.isalnum() or before in _JOINERS or after.isalnum() or after in _JOINERS:  # é, ß, digits
        return False
    if before == "." and not text[start].isupper():
        return False
    return not (after == "." and next_.isalnum() and not next_.isupper())


def _split(token: str) -> str:
    if len(token) < MIN_LENGTH or not (token.islower() or (token[0].isupper() and token[1:].islower())):
        return token
    model, limit = _model()
    costs = model._wordcost
    if token.lower() in costs:
        return token
    parts = list(model.split(token))
    if not 2 <= len(parts) <= MAX_PARTS:
        return token
    for part in parts:
        word = part.lower()
        if costs.get(word, math.inf) > limit or (len(word) < 4 and word not in SHORT_WORDS):
            return token
    if token[0].isupper() and not any(p.lower() in SHORT_WORDS for p in parts):
        return token  # "Quillfeather" is a name as often as two words; "Thetechnician", "Cleanthe" are not names
    return " ".join(parts)


def split_merged_words(text: str) -> str:
    """`text` with words OCR ran together written apart (the module notes give the rules); everything else,
    line breaks and spacing included, unchanged. Raises nothing; without wordninja installed returns `text`."""
    try:
        _model()
    except ImportError:
        return text
    return _TOKEN.sub(lambda m: _split(m.group()) if _alone(text, m.start(), m.end()) else m.group(), text)
