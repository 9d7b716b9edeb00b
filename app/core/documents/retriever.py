"""Hybrid retrieval: dense (Chroma) + keyword BM25 (SQLite FTS5), fused by a convex combination of their scores,
optionally re-ranked by a cross-encoder. Search never involves a language model.

Fusion (hybrid, the default `fusion="convex"`): CONVEX_ALPHA × dense_weight × cosine + (1 − CONVEX_ALPHA) × bm25_weight × BM25 ÷ the best BM25
of that collection's list (Bruch, Gai & Ingber, "An Analysis of Fusion Functions for Hybrid Retrieval", ACM TOIS
2023: a convex combination beats reciprocal rank fusion and needs few samples to tune). RRF looks at ranks only,
so a passage that shares one common word with a paraphrased question ("get") got as much from BM25 as an exact
match, and outranked the passage the dense retriever found far more similar. Lists of several collections in dense
or BM25 mode are merged by RRF (their scores are on different scales); `fusion="rrf"` fuses hybrid lists by
weighted RRF too. Duplicate pages are collapsed in the ranked list (collapse_pages). The dense share shrinks with the share of
the query's tokens the embedder does not know (_known_share): its vector of [UNK]s is close to any text of
[UNK]s. Near-duplicate passages are collapsed in each list and in the result (collapse_near_duplicates), so copies
of one passage cannot fill the ranks. Tables of contents and indexes (toc.is_listing: dot leaders with page numbers)
are demoted by TOC_FACTOR in every mode: they share words with any question but answer none."""

from __future__ import annotations

import contextlib
import functools
import re
from dataclasses import dataclass
from pathlib import Path

from app.core.documents import embedder as embedders
from app.core.documents import fts, ocr, toc
from app.core.documents.store import FIELD_WEIGHTS, ChunkRow, CollectionInfo, Store

MODES = ("hybrid", "dense", "bm25")
RRF_K = 60
# Chosen on tests/benchmarks/rag_quality.py's 41 questions (tuned-on set): hybrid recall@5 0.951 as with RRF,
# recall@1 0.73 vs 0.68, MRR@10 0.82 vs 0.80 (alpha 0.5: 0.93 / 0.71 / 0.79; 0.9: 0.93 / 0.73 / 0.82).
CONVEX_ALPHA = 0.8
FUSIONS = ("convex", "rrf")
# Measured on the independent dev set (tests/benchmarks/rag_quality.py, 200/40-token chunks with headers, pages
# collapsed, ONNX int8 MiniLM): convex 0.8 recall@1 0.72, recall@5 0.92, MRR@10 0.808, nDCG@10 0.757; weighted RRF
# dense 2 : BM25 1 (k=60) 0.66 / 0.90 / 0.764 / 0.726; RRF 1:1 0.62 / 0.88 / 0.737 / 0.716. Convex stays.
FUSION = "convex"
DENSE_WEIGHT = 1.0

# Words that carry no meaning for keyword search (the BM25 scoring itself is FTS5's).
STOPWORDS = frozenset("""a about above after again against all am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further had has have having he her
here hers herself him himself his how i if in into is it its itself just me more most my myself no nor not now of off
on once only or other our ours ourselves out over own same she should so some such than that the their theirs them
themselves then there these they this those through to too under until up very was we were what when where which while
who whom why will with would you your yours yourself yourselves whats hows""".split())
_WORD = re.compile(r"\w+", re.UNICODE)
_SPLIT_SPACELESS = re.compile(f"({fts.SPACELESS_RUN.pattern})")
_DIGITS = re.compile(r"\d+")
# A table of contents / index passage's score is multiplied by this (its distance to 0 shrunk, for a negative one)
# so it ranks below answering passages of comparable score yet stays findable (issue 16). Dev set (rag_quality.py),
# 1.0 → 0.8: hybrid R@1 / R@5 / MRR@10 / nDCG@10 0.72 / 0.92 / 0.807 / 0.756 → 0.72 / 0.92 / 0.807 / 0.758, dense
# 0.64 / 0.86 / 0.743 / 0.709 → 0.68 / 0.88 / 0.774 / 0.735, BM25 unchanged (0.38 / 0.68 / 0.514); R-manual
# questions on one index: hybrid unchanged, dense R@1 0.585 → 0.610, MRR@10 0.712 → 0.730.
TOC_FACTOR = 0.8
NEAR_DUPLICATE = 0.8  # Jaccard similarity of word 3-shingles above which two passages say the same thing


@dataclass
class SearchOptions:
    k: int = 10
    mode: str = "hybrid"  # hybrid | dense | bm25
    candidates: int = 40  # taken from each retriever before fusion
    rrf_k: int = RRF_K
    dense_weight: float = DENSE_WEIGHT  # the mix: weights of each list in the fusion
    bm25_weight: float = 1.0
    reranker: str = ""  # installed reranker name; "" = none
    rerank_top: int = 20
    fusion: str = FUSION  # hybrid: "rrf" (weighted reciprocal rank fusion) or "convex" (score combination)
    collapse_pages: bool = True  # one hit per PDF page (per section elsewhere): its best chunk
    bm25_fields: tuple[float, float, float] = FIELD_WEIGHTS  # bm25() weights of title, heading, body


@dataclass
class Hit:
    id: str
    file: str
    page: int | None
    page_end: int | None
    heading: str
    text: str
    score: float  # what ranked it: fused score, cosine similarity, BM25 score, RRF score, or reranker score
    char_start: int = 0
    char_end: int = 0
    similarity: float | None = None  # cosine similarity to the query (dense), when known
    bm25: float | None = None
    full_match: bool = False  # the passage contains every meaningful query word
    rerank: float | None = None
    collection: str = ""
    ocr: bool = False  # the passage's text was read by OCR (a scanned page, an image)
    title: str = ""  # the document's title (contextual header), "" for collections made before headers

    def to_json(self) -> dict:
        return {"file": self.file, "page": self.page, "score": round(self.score, 6), "text": self.text,
                "heading": self.heading or None, "char_span": [self.char_start, self.char_end], "ocr": self.ocr}


def keywords(query: str) -> list[str]:
    """The query's keyword terms, in order, without repeats: its words lower-cased without stopwords (all of them
    when every word is one), and for each run of Chinese, Japanese, Korean or Thai the character bigrams the
    keyword index holds (fts.query_terms)."""
    words: list[str] = []
    runs: list[str] = []
    for part in _SPLIT_SPACELESS.split(query):
        if fts.SPACELESS_RUN.fullmatch(part):
            runs.extend(fts.query_terms(part))
        elif part:
            words.extend(w.lower() for w in _WORD.findall(part))
    content = [w for w in words if w not in STOPWORDS]
    terms = (content or ([] if runs else words)) + runs
    return list(dict.fromkeys(terms))


def _fts_query(terms: list[str], joiner: str) -> str:
    return fts.match_expression(terms, joiner)


@functools.lru_cache(maxsize=8192)  # a search collapses each list and then the fused one: the same texts
def _shingles(text: str) -> frozenset:
    """Word 3-shingles of a passage (characters stand for words in scripts written without spaces), every number
    written as 0: a footer with its page number, a disclaimer with its count, are the same text."""
    tokens: list[str] = []
    for part in _SPLIT_SPACELESS.split(_DIGITS.sub("0", text.lower())):
        tokens.extend(part if fts.SPACELESS_RUN.fullmatch(part) else _WORD.findall(part))
    if len(tokens) < 3:
        return frozenset([" ".join(tokens)])
    return frozenset(" ".join(tokens[i:i + 3]) for i in range(len(tokens) - 2))


def collapse_near_duplicates(keys: list, texts: dict) -> list:
    """keys in order without the ones whose text is a near-duplicate (Jaccard of word 3-shingles ≥
    NEAR_DUPLICATE; Broder, "On the resemblance and containment of documents", 1997) of a key kept before them,
    so one passage repeated with small changes (filler, a boilerplate footer, overlapping chunks of a repetitive
    file) takes one place in a ranked list, not all of them. Keys without text are kept."""
    kept: list = []
    sizes: list[int] = []
    postings: dict[str, list[int]] = {}  # shingle -> the kept passages that have it
    for key in keys:
        text = texts.get(key)
        if text is None:
            kept.append(key)
            continue
        shingles = _shingles(text)
        shared: dict[int, int] = {}  # kept passage -> shingles in common (only passages sharing any are looked at)
        for shingle in shingles:
            for j in postings.get(shingle, ()):
                shared[j] = shared.get(j, 0) + 1
        if any(n >= NEAR_DUPLICATE * (len(shingles) + sizes[j] - n) for j, n in shared.items()):
            continue
        for shingle in shingles:
            postings.setdefault(shingle, []).append(len(sizes))
        sizes.append(len(shingles))
        kept.append(key)
    return kept


class Retriever:
    """Searches one or more collections of a store."""

    def __init__(self, store: Store | None = None, root: Path | None = None) -> None:
        self.store = store or Store(root)

    def search(self, collections: list[CollectionInfo] | CollectionInfo, query: str,
               options: SearchOptions | None = None, dense_text: str | None = None) -> list[Hit]:
        """`dense_text` (HyDE, chat/query.py): a passage whose embedding is added to the query's for the dense
        search and the similarities (keyword search and re-ranking keep `query`)."""
        options = options or SearchOptions()
        self._dense_text = (dense_text or "").strip()
        if isinstance(collections, CollectionInfo):
            collections = [collections]
        query = query.strip()
        if not query:
            return []
        lists: list[tuple[str, float, list[tuple[str, CollectionInfo, float]]]] = []  # (kind, weight, ranked)
        sims: dict[tuple[int, str], float] = {}
        bm25s: dict[tuple[int, str], float] = {}
        full: set[tuple[int, str]] = set()
        terms = keywords(query)
        self._qvec: dict[str, object] = {}
        for info in collections:
            if options.mode in ("hybrid", "dense"):
                dense = self._dense(info, query, options.candidates)
                for cid, sim in dense:
                    sims[(info.id, cid)] = sim
                lists.append(("dense", options.dense_weight, [(cid, info, s) for cid, s in dense]))
            if options.mode in ("hybrid", "bm25") and terms:
                kw = self.store.keyword_search(info, _fts_query(terms, "OR"), options.candidates,
                                               options.bm25_fields)
                for cid, s in kw:
                    bm25s[(info.id, cid)] = s
                lists.append(("bm25", options.bm25_weight, [(cid, info, s) for cid, s in kw]))
        rows = self._rows(lists)
        texts = {key: row.text for key, row in rows.items()}
        # Each list without near-duplicates first, so copies of one passage cannot fill a retriever's ranks.
        lists = [(kind, weight, _collapse_list(ranked, texts)) for kind, weight, ranked in lists]
        infos = {(info.id, cid): info for _, _, ranked in lists for cid, info, _ in ranked}
        if options.mode == "hybrid" and options.fusion == "convex":
            self._similarities(lists, sims, query)
            fused = _convex(lists, sims, CONVEX_ALPHA * min(self._known_share(i, query) for i in collections))
        elif options.mode == "hybrid" or len(lists) > 1:  # RRF; or one mode over several collections
            share = min(self._known_share(i, query) for i in collections) if options.mode == "hybrid" else 1.0
            fused = _rrf([(kind, weight * (share if kind == "dense" else 1.0), ranked)
                          for kind, weight, ranked in lists], options.rrf_k)
        else:
            fused = {(info.id, cid): s for _, _, ranked in lists for cid, info, s in ranked}
        demote_listings(fused, texts)
        order = sorted(fused, key=lambda k: fused[k], reverse=True)
        order = collapse_near_duplicates(order, texts)  # and across the lists
        if options.collapse_pages:
            order = collapse_pages(order, rows)
        keep = max(options.k, options.rerank_top if options.reranker else 0)
        order = order[:keep]
        if terms and options.mode in ("hybrid", "bm25"):
            full = self._full_matches(order, infos, terms)
        hits = self._hits(order, rows, infos, fused, sims, bm25s, full)
        if options.reranker and hits:
            reranker = embedders.get_reranker(options.reranker)
            for hit, s in zip(hits, reranker.score(query, [_passage(h) for h in hits])):
                hit.rerank = hit.score = demoted(s) if toc.is_listing(hit.text) else s
            hits.sort(key=lambda h: h.score, reverse=True)
        hits = hits[:options.k]
        self._fill_similarity(hits, infos, query)
        ocr.mark_hits(self.store, collections, hits)
        return hits

    def _full_matches(self, order, infos, terms: list[str]) -> set:
        """The keys of `order` whose passage holds every keyword of the query (one FTS AND query per collection,
        limited to those passages)."""
        by_collection: dict[int, tuple[CollectionInfo, list[str]]] = {}
        for key in order:
            by_collection.setdefault(key[0], (infos[key], []))[1].append(key[1])
        full = set()
        for col_id, (info, ids) in by_collection.items():
            full.update((col_id, cid) for cid in self.store.keyword_matches(info, _fts_query(terms, "AND"), ids))
        return full

    def _rows(self, lists) -> dict[tuple[int, str], ChunkRow]:
        """The stored rows of every candidate of every list, by (collection id, chunk id)."""
        wanted: dict[int, tuple[CollectionInfo, set[str]]] = {}
        for _, _, ranked in lists:
            for cid, info, _ in ranked:
                wanted.setdefault(info.id, (info, set()))[1].add(cid)
        rows: dict[tuple[int, str], ChunkRow] = {}
        for col_id, (info, ids) in wanted.items():
            for cid, row in self.store.chunk_rows(info, sorted(ids)).items():
                rows[(col_id, cid)] = row
        return rows

    def _dense(self, info: CollectionInfo, query: str, n: int) -> list[tuple[str, float]]:
        def run(vectors):  # Chroma ≥ 1.x returns what there is when n exceeds the count (no count() call: ~10 ms)
            return vectors.query(query_embeddings=[self._query_vector(info, query)], n_results=n,
                                 include=["distances"])

        result = self._on_vectors(info, run)
        return [(cid, 1.0 - float(d)) for cid, d in zip(result["ids"][0], result["distances"][0])]

    def _hits(self, order, rows, infos, fused, sims, bm25s, full) -> list[Hit]:
        hits = []
        for key in order:
            row = rows.get(key)
            if row is None:  # a vector whose row vanished (file being re-indexed right now)
                continue
            hits.append(Hit(row.id, row.path, row.page_start, row.page_end, row.heading, row.text, fused[key],
                            row.char_start, row.char_end, similarity=sims.get(key), bm25=bm25s.get(key),
                            full_match=key in full, collection=infos[key].name, title=row.title))
        return hits

    def _similarities(self, lists, sims: dict, query: str) -> None:
        """Cosine similarity to the query of the keyword-only candidates, from their stored vectors."""
        missing: dict[int, tuple[CollectionInfo, list[str]]] = {}
        for kind, _, ranked in lists:
            for cid, info, _ in ranked:
                if kind == "bm25" and (info.id, cid) not in sims:
                    missing.setdefault(info.id, (info, []))[1].append(cid)
        for col_id, (info, ids) in missing.items():
            for cid, similarity in self._stored_similarity(info, ids, query).items():
                sims[(col_id, cid)] = similarity

    def _stored_similarity(self, info: CollectionInfo, ids: list[str], query: str) -> dict[str, float]:
        """{chunk id: cosine similarity of its stored vector to the query} for the ids that have a vector."""
        import numpy as np

        got = self._on_vectors(info, lambda vectors: vectors.get(ids=ids, include=["embeddings"]))
        q = self._query_vector(info, query)
        return {cid: float(np.dot(q, np.asarray(vector, dtype="float32")))
                for cid, vector in zip(got["ids"], got["embeddings"])}

    def _on_vectors(self, info: CollectionInfo, fn):
        """fn(the collection's Chroma collection), again with a fresh handle when the kept one fails (its
        collection was re-made by another store since: re-embedded or re-chunked)."""
        try:
            return fn(self.store.vectors(info))
        except Exception:  # noqa: BLE001 - chromadb raises its own NotFoundError / InvalidCollectionException
            self.store.forget_vectors(info)
            return fn(self.store.vectors(info))

    def _known_share(self, info: CollectionInfo, query: str) -> float:
        """The share of the query's tokens the embedder knows (not its unknown token). MiniLM's vocabulary lacks
        most Chinese characters and all of Thai: such a query embeds as [UNK]s, close to any other text of
        [UNK]s, so its cosine similarities say nothing and hybrid search leans on keywords instead."""
        embedder = embedders.get_embedder(info.model)
        tokenizer = getattr(embedder, "tokenizer", None)
        unknown = getattr(tokenizer, "unk_token_id", None)
        if unknown is None:
            return 1.0
        with getattr(embedder, "_count_lock", contextlib.nullcontext()):  # the tokenizer count_tokens uses
            ids = tokenizer(query, add_special_tokens=False, truncation=False)["input_ids"]
        return 1.0 - sum(i == unknown for i in ids) / len(ids) if ids else 1.0

    def _query_vector(self, info: CollectionInfo, query: str):
        if info.model not in self._qvec:
            embedder = embedders.get_embedder(info.model)
            vector = embedder.encode_query(query)
            if getattr(self, "_dense_text", ""):  # HyDE: the question's and the passage's vectors, summed, unit
                import numpy as np

                vector = vector + np.asarray(embedder.encode([self._dense_text])[0], dtype="float32")
                vector = (vector / max(float(np.linalg.norm(vector)), 1e-12)).astype("float32")
            self._qvec[info.model] = vector
        return self._qvec[info.model]

    def _fill_similarity(self, hits: list[Hit], infos, query: str) -> None:
        """Cosine similarity for hits that came from keywords only (used to judge relevance), from their stored
        vectors."""
        missing = [h for h in hits if h.similarity is None]
        by_name = {info.name: info for info in infos.values()}
        for name in sorted({h.collection for h in missing}):
            group = [h for h in missing if h.collection == name]
            stored = self._stored_similarity(by_name[name], [h.id for h in group], query)
            for hit in group:
                hit.similarity = stored.get(hit.id)


def _convex(lists, sims: dict, alpha: float) -> dict:
    """Hybrid fusion (see the module docstring): alpha × cosine similarity + (1 − alpha) × max-normalised BM25."""
    fused: dict = {}
    for kind, weight, ranked in lists:
        if kind == "dense":
            for cid, info, _ in ranked:
                fused.setdefault((info.id, cid), 0.0)
            continue
        best = max((s for _, _, s in ranked), default=0.0)
        for cid, info, s in ranked:
            key = (info.id, cid)
            fused[key] = fused.get(key, 0.0) + (1 - alpha) * weight * (s / best if best > 0 else 0.0)
    dense_weight = next((weight for kind, weight, _ in lists if kind == "dense"), 1.0)
    for key in fused:
        fused[key] += alpha * dense_weight * sims.get(key, 0.0)
    return fused


def demoted(score: float) -> float:
    """A listing's score: moved towards 0 by TOC_FACTOR of its size (so a negative score drops too)."""
    return score - (1.0 - TOC_FACTOR) * abs(score)


def demote_listings(scores: dict, texts: dict) -> None:
    """Demote, in place, the scores of passages that are tables of contents or indexes (toc.is_listing), so they
    rank after answering passages of comparable score but stay in the list."""
    for key, score in scores.items():
        text = texts.get(key)
        if text and toc.is_listing(text):
            scores[key] = demoted(score)


def _rrf(lists, rrf_k: int) -> dict:
    """Reciprocal rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009) of weighted ranked lists."""
    fused: dict = {}
    for _, weight, ranked in lists:
        for rank, (cid, info, _) in enumerate(ranked):
            key = (info.id, cid)
            fused[key] = fused.get(key, 0.0) + weight / (rrf_k + rank + 1)
    return fused


def collapse_pages(keys: list, rows: dict) -> list:
    """keys in order, keeping the first (best) chunk of each PDF page, and of each headed section of a file
    without pages; chunks of a file with neither stay. Duplicate pages otherwise take the ranks other pages could
    have (dev set: recall@5 +0.00 to +0.04, nDCG@10 +0.03; exp/rag/REPORT.md §4.3). Keys without a row are
    kept."""
    seen: set = set()
    kept: list = []
    for key in keys:
        row = rows.get(key)
        if row is not None and (row.page_start is not None or row.heading):
            place = (key[0], row.path, row.page_start) if row.page_start is not None else \
                (key[0], row.path, row.heading)
            if place in seen:
                continue
            seen.add(place)
        kept.append(key)
    return kept


def _collapse_list(ranked: list, texts: dict) -> list:
    """One retriever's (chunk id, collection, score) list without near-duplicates of higher-ranked entries."""
    by_key = {(info.id, cid): (cid, info, score) for cid, info, score in ranked}
    return [by_key[key] for key in collapse_near_duplicates(list(by_key), texts)]


def _passage(hit: Hit) -> str:
    return f"{hit.heading}\n{hit.text}" if hit.heading and not hit.text.startswith(hit.heading) else hit.text
