"""Documents' entry: the jobs the Documents tab and `hearth docs` run — index, search, list, remove, change the
embedder. Each is `fn(inputs, state)`; jobs that write the store name RESOURCE. Indexing streams a FileIndexed
partial per file. Answering a question from a collection is a chat reply (app.core.chat.documents).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from app.core.documents.indexer import FileIndexed, IndexReport, IndexRequest, index_collection  # noqa: F401
from app.core.documents.retriever import Hit, Retriever, SearchOptions
from app.core.documents.store import EMPTY, FAILED, INDEXED, PENDING, CollectionInfo, Store
from app.core.errors import UserError

RESOURCE = "documents"  # jobs that write the store run one after another


def options_from_settings(docs, k: int | None = None, **overrides) -> SearchOptions:
    """SearchOptions from a DocumentsSettings section: k (None: its search_k), mode, RRF k and weights, reranker.
    `overrides` that are not None win. Raises UserError for a mode other than hybrid, dense or bm25."""
    opts = SearchOptions(k=k or docs.search_k, mode=docs.mode, rrf_k=docs.rrf_k, dense_weight=docs.dense_weight,
                         bm25_weight=docs.bm25_weight, reranker=docs.reranker,
                         fusion=getattr(docs, "fusion", SearchOptions.fusion))
    for key, value in overrides.items():
        if value is not None:
            setattr(opts, key, value)
    if opts.mode not in ("hybrid", "dense", "bm25"):
        raise UserError(f"unknown search mode '{opts.mode}' (use hybrid, dense or bm25)")
    if opts.fusion not in ("rrf", "convex"):
        raise UserError(f"unknown fusion '{opts.fusion}' (use rrf or convex)")
    return opts


@dataclass
class CollectionSummary:
    """A collection for `hearth docs list` and the Documents tab: its embedder, sources, file counts by state
    (duplicates count in `files` only) and passages."""

    name: str
    model: str
    sources: list[str]
    files: int
    indexed: int
    pending: int
    failed: int
    empty: int  # files with no text (0 bytes, a blank PDF, an empty document)
    chunks: int
    chunk_format: int = 2  # store.CHUNK_FORMAT it was made in; 1: before contextual headers (re-chunk to upgrade)

    def to_json(self) -> dict:
        """A JSON-ready dict of every field (`hearth docs list --json`)."""
        return dict(self.__dict__)


def summarize(store: Store, info: CollectionInfo, files: list | None = None) -> CollectionSummary:
    """The summary of one collection of `store`; `files` (its store.files rows) when the caller has them."""
    files = store.files(info) if files is None else files

    def count(state: str) -> int:
        return sum(f.state == state for f in files)

    return CollectionSummary(info.name, info.model, store.sources(info), len(files), count(INDEXED), count(PENDING),
                             count(FAILED), count(EMPTY), sum(f.chunks for f in files if f.state == INDEXED),
                             info.chunk_format)


def list_collections(root: Path | None = None) -> list[CollectionSummary]:
    """Every collection of the store at `root` (None: the user's), by name."""
    store = Store(root)
    return [summarize(store, info) for info in store.collections()]


def remove_collection(name: str, root: Path | None = None) -> None:
    """Delete a collection's index (its files are not touched). Raises UserError when there is no such collection."""
    Store(root).remove(name)


@dataclass
class SearchRequest:
    """A search of one or more collections (their rankings fused)."""

    collections: list[str]
    query: str
    options: SearchOptions = field(default_factory=SearchOptions)
    root: Path | None = None


@dataclass(frozen=True)
class StillIndexing:
    """Partial of a search (sent before its hits): a searched collection is being indexed right now, so the hits
    come from what is indexed so far. `note` says how far ("Indexing 120 of 677 pages — …")."""

    collection: str
    note: str


def indexing_notes(store: Store, infos: list[CollectionInfo]) -> list[StillIndexing]:
    """A StillIndexing for each of the collections that is being indexed (by this or another process)."""
    out = []
    for info in infos:
        progress = store.indexing(info)
        if progress is not None:
            out.append(StillIndexing(info.name, progress.note()))
    return out


def search(request: SearchRequest, state=None) -> list[Hit]:
    """Job: the best `request.options.k` passages for the query, best first; a collection being indexed is searched
    as far as it is indexed, and a StillIndexing partial says so. Raises UserError for an unknown collection or an
    embedder/reranker that is not installed."""
    retriever = Retriever(root=request.root)
    infos = [retriever.store.get(name) for name in request.collections]
    if state is not None:
        state.check()
        for note in indexing_notes(retriever.store, infos):
            state.partial(note)
    return retriever.search(infos, request.query, request.options)


@dataclass
class ChangeEmbedder:
    """Switch `collection` to embedder `model` ("" = built-in)."""

    collection: str
    model: str
    root: Path | None = None


def change_embedder(request: ChangeEmbedder, state) -> IndexReport:
    """Job: switch a collection to another embedding model and re-embed every file. Raises UserError for an
    unknown collection or an embedder that is not installed."""
    from app.core.documents import embedder as embedders

    store = Store(request.root)
    info = store.get(request.collection)
    embedders.resolve(request.model or embedders.BUILTIN)
    store.set_model(info, request.model or embedders.BUILTIN)
    return index_collection(IndexRequest(request.collection, root=request.root, create=False), state)


def remove_collection_job(name: str, state=None) -> str:
    """Job: remove_collection for the store in the data folder; returns the name."""
    remove_collection(name)
    return name
