"""Hybrid retrieval: dense (Chroma) + keyword BM25 (SQLite FTS5), fused by reciprocal rank fusion, optionally
re-ranked by a cross-encoder. Search never involves a language model."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from app.core.documents import embedder as embedders
from app.core.documents.store import CollectionInfo, Store

MODES = ("hybrid", "dense", "bm25")
RRF_K = 60

# Words that carry no meaning for keyword search (the BM25 scoring itself is FTS5's).
STOPWORDS = frozenset("""a about above after again against all am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further had has have having he her
here hers herself him himself his how i if in into is it its itself just me more most my myself no nor not now of off
on once only or other our ours ourselves out over own same she should so some such than that the their theirs them
themselves then there these they this those through to too under until up very was we were what when where which while
who whom why will with would you your yours yourself yourselves whats hows""".split())
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass
class SearchOptions:
    k: int = 10
    mode: str = "hybrid"  # hybrid | dense | bm25
    candidates: int = 40  # taken from each retriever before fusion
    rrf_k: int = RRF_K
    dense_weight: float = 1.0  # the mix: weights of each list in the fusion
    bm25_weight: float = 1.0
    reranker: str = ""  # installed reranker name; "" = none
    rerank_top: int = 20


@dataclass
class Hit:
    id: str
    file: str
    page: int | None
    page_end: int | None
    heading: str
    text: str
    score: float  # what ranked it: fused RRF score, cosine similarity, BM25 score, or reranker score
    char_start: int = 0
    char_end: int = 0
    similarity: float | None = None  # cosine similarity to the query (dense), when known
    bm25: float | None = None
    full_match: bool = False  # the passage contains every meaningful query word
    rerank: float | None = None
    collection: str = ""

    def to_json(self) -> dict:
        return {"file": self.file, "page": self.page, "score": round(self.score, 6), "text": self.text,
                "heading": self.heading or None, "char_span": [self.char_start, self.char_end]}


def keywords(query: str) -> list[str]:
    words = [w.lower() for w in _WORD.findall(query)]
    content = [w for w in words if w not in STOPWORDS]
    seen: list[str] = []
    for w in content or words:
        if w not in seen:
            seen.append(w)
    return seen


def _fts_query(terms: list[str], joiner: str) -> str:
    return f" {joiner} ".join('"' + t.replace('"', '""') + '"' for t in terms)


class Retriever:
    """Searches one or more collections of a store."""

    def __init__(self, store: Store | None = None, root: Path | None = None) -> None:
        self.store = store or Store(root)

    def search(self, collections: list[CollectionInfo] | CollectionInfo, query: str,
               options: SearchOptions | None = None) -> list[Hit]:
        options = options or SearchOptions()
        if isinstance(collections, CollectionInfo):
            collections = [collections]
        query = query.strip()
        if not query:
            return []
        lists: list[tuple[float, list[tuple[str, CollectionInfo, float]]]] = []
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
                lists.append((options.dense_weight, [(cid, info, s) for cid, s in dense]))
            if options.mode in ("hybrid", "bm25") and terms:
                kw = self.store.keyword_search(info, _fts_query(terms, "OR"), options.candidates)
                for cid, s in kw:
                    bm25s[(info.id, cid)] = s
                lists.append((options.bm25_weight, [(cid, info, s) for cid, s in kw]))
                for cid, _ in self.store.keyword_search(info, _fts_query(terms, "AND"), options.candidates):
                    full.add((info.id, cid))
        fused: dict[tuple[int, str], float] = {}
        infos: dict[tuple[int, str], CollectionInfo] = {}
        if options.mode == "hybrid" or len(collections) > 1 or len(lists) > 1:
            for weight, ranked in lists:
                for rank, (cid, info, _) in enumerate(ranked):
                    key = (info.id, cid)
                    fused[key] = fused.get(key, 0.0) + weight / (options.rrf_k + rank + 1)
                    infos[key] = info
        else:
            for _, ranked in lists:
                for cid, info, s in ranked:
                    fused[(info.id, cid)] = s
                    infos[(info.id, cid)] = info
        order = sorted(fused, key=lambda k: fused[k], reverse=True)
        keep = max(options.k, options.rerank_top if options.reranker else 0)
        order = order[:keep]
        hits = self._hits(order, infos, fused, sims, bm25s, full)
        if options.reranker and hits:
            reranker = embedders.get_reranker(options.reranker)
            for hit, s in zip(hits, reranker.score(query, [_passage(h) for h in hits])):
                hit.rerank = hit.score = s
            hits.sort(key=lambda h: h.score, reverse=True)
        hits = hits[:options.k]
        self._fill_similarity(hits, infos, query)
        return hits

    def _dense(self, info: CollectionInfo, query: str, n: int) -> list[tuple[str, float]]:
        vectors = self.store.vectors(info)
        count = vectors.count()
        if count == 0:
            return []
        result = vectors.query(query_embeddings=[self._query_vector(info, query)], n_results=min(n, count),
                               include=["distances"])
        return [(cid, 1.0 - float(d)) for cid, d in zip(result["ids"][0], result["distances"][0])]

    def _hits(self, order, infos, fused, sims, bm25s, full) -> list[Hit]:
        by_collection: dict[int, list[str]] = {}
        for cid_key in order:
            by_collection.setdefault(cid_key[0], []).append(cid_key[1])
        rows = {}
        for col_id, ids in by_collection.items():
            info = next(infos[k] for k in order if k[0] == col_id)
            for cid, row in self.store.chunk_rows(info, ids).items():
                rows[(col_id, cid)] = row
        hits = []
        for key in order:
            row = rows.get(key)
            if row is None:  # a vector whose row vanished (file being re-indexed right now)
                continue
            hits.append(Hit(row.id, row.path, row.page_start, row.page_end, row.heading, row.text, fused[key],
                            row.char_start, row.char_end, similarity=sims.get(key), bm25=bm25s.get(key),
                            full_match=key in full, collection=infos[key].name))
        return hits

    def _query_vector(self, info: CollectionInfo, query: str):
        if info.model not in self._qvec:
            self._qvec[info.model] = embedders.get_embedder(info.model).encode_query(query)
        return self._qvec[info.model]

    def _fill_similarity(self, hits: list[Hit], infos, query: str) -> None:
        """Cosine similarity for hits that came from keywords only (used to judge relevance), from their stored
        vectors."""
        missing = [h for h in hits if h.similarity is None]
        if not missing:
            return
        import numpy as np

        by_name = {info.name: info for info in infos.values()}
        for name in sorted({h.collection for h in missing}):
            info = by_name[name]
            group = [h for h in missing if h.collection == name]
            got = self.store.vectors(info).get(ids=[h.id for h in group], include=["embeddings"])
            stored = dict(zip(got["ids"], got["embeddings"]))
            q = self._query_vector(info, query)
            for hit in group:
                if hit.id in stored:
                    hit.similarity = float(np.dot(q, np.asarray(stored[hit.id], dtype="float32")))


def _passage(hit: Hit) -> str:
    return f"{hit.heading}\n{hit.text}" if hit.heading and not hit.text.startswith(hit.heading) else hit.text
