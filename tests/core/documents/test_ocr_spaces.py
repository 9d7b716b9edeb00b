"""OCR that runs words together ("technicianwas"): the words are split again, so keyword search finds each one.
Real RapidOCR, PDFium, indexer and FTS5; the scan is made here with narrow word spaces, as set in justified or
condensed print, which is where PP-OCR drops them."""

import re

from app.core.documents import ocr, wordsplit
from app.core.documents.indexer import IndexRequest, index_collection
from app.core.documents.retriever import Retriever, SearchOptions
from app.core.jobs import JobState
from tests.core.documents.scans import picture as picture_of

TEXT = ("The outdoor unit of the heat pump stands on a concrete pad, so that air can flow freely around the "
        "evaporator. Clean the coil every spring with a soft brush and mild soap, and have the refrigerant pressure "
        "checked once a year by a licensed technician. If the unit ices over for more than an hour, switch to "
        "emergency heat and call the service line printed on the warranty card.")
WORDS = set(re.findall(r"[a-z]+", TEXT.lower()))


def merged(text: str) -> list[str]:
    """Tokens that are two words of TEXT run together."""
    return [t for t in re.findall(r"[a-z]+", text.lower())
            if t not in WORDS and any(t[:i] in WORDS and t[i:] in WORDS for i in range(1, len(t)))]


def test_words_ocr_ran_together_are_split_and_found_by_keywords(tmp_path, monkeypatch):
    import numpy as np

    picture = picture_of(TEXT, size=(1240, 700), font_size=20, word_space=0.5)
    with monkeypatch.context() as patch:  # what RapidOCR itself reads: words run together
        patch.setattr(wordsplit, "split_merged_words", lambda text: text)
        raw = ocr.recognize(np.asarray(picture)).text
    read = ocr.recognize(np.asarray(picture)).text
    assert len(merged(raw)) >= 3, raw  # the scan does make PP-OCR drop spaces
    assert len(merged(read)) <= len(merged(raw)) // 2, (merged(raw), merged(read))

    folder = tmp_path / "scans"
    folder.mkdir()
    picture.save(folder / "notice.png")  # an image file is read at its own pixels, as recognize() read it above
    index_collection(IndexRequest("scans", [str(folder)]), JobState())
    retriever = Retriever()
    info = retriever.store.get("scans")
    # Words raw OCR read only inside a merged token ("ices" in "unitices"): keyword search finds them now.
    raw_tokens = set(re.findall(r"[a-z]+", raw.lower()))
    halves = {half for m in merged(raw) if m not in merged(read) for i in range(1, len(m))
              if m[:i] in WORDS and m[i:] in WORDS for half in (m[:i], m[i:])}
    only_merged = sorted(w for w in halves if len(w) > 3 and w not in raw_tokens)
    assert only_merged, (raw, read)
    for word in only_merged:
        hits = retriever.search(info, word, SearchOptions(k=1, mode="bm25"))
        assert hits and hits[0].ocr and word in re.findall(r"[a-z]+", hits[0].text.lower()), word
