"""Jobs the GUI and the CLI run for Documents: index, search, ask, list, remove. Each is `fn(inputs, state)`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from app.core.documents.indexer import IndexReport, IndexRequest, index_collection  # noqa: F401 (re-export)
from app.core.documents.retriever import Hit, Retriever, SearchOptions
from app.core.documents.store import FAILED, INDEXED, PENDING, Store
from app.core.errors import UserError

RESOURCE = "documents"  # jobs that write the store run one after another


def options_from_settings(docs, k: int | None = None, **overrides) -> SearchOptions:
    """SearchOptions from a DocumentsSettings section."""
    opts = SearchOptions(k=k or docs.search_k, mode=docs.mode, rrf_k=docs.rrf_k, dense_weight=docs.dense_weight,
                         bm25_weight=docs.bm25_weight, reranker=docs.reranker)
    for key, value in overrides.items():
        if value is not None:
            setattr(opts, key, value)
    if opts.mode not in ("hybrid", "dense", "bm25"):
        raise UserError(f"unknown search mode '{opts.mode}' (use hybrid, dense or bm25)")
    return opts


@dataclass
class CollectionSummary:
    name: str
    model: str
    sources: list[str]
    files: int
    indexed: int
    pending: int
    failed: int
    chunks: int

    def to_json(self) -> dict:
        return dict(self.__dict__)


def list_collections(root: Path | None = None) -> list[CollectionSummary]:
    store = Store(root)
    out = []
    for info in store.collections():
        files = store.files(info)
        out.append(CollectionSummary(
            info.name, info.model, store.sources(info), len(files),
            sum(f.state == INDEXED for f in files), sum(f.state == PENDING for f in files),
            sum(f.state == FAILED for f in files), sum(f.chunks for f in files if f.state == INDEXED)))
    return out


def remove_collection(name: str, root: Path | None = None) -> None:
    Store(root).remove(name)


@dataclass
class SearchRequest:
    collections: list[str]
    query: str
    options: SearchOptions = field(default_factory=SearchOptions)
    root: Path | None = None


def search(request: SearchRequest, state=None) -> list[Hit]:
    retriever = Retriever(root=request.root)
    infos = [retriever.store.get(name) for name in request.collections]
    if state is not None:
        state.check()
    return retriever.search(infos, request.query, request.options)


@dataclass
class AskRequest:
    collections: list[str]
    question: str
    model_path: str
    options: SearchOptions = field(default_factory=lambda: SearchOptions(k=5))
    min_similarity: float = 0.3
    max_tokens: int = 384
    temperature: float = 0.2
    seed: int | None = 0
    n_ctx: int | None = 4096
    root: Path | None = None


def ask(request: AskRequest, state=None):
    """Retrieve, then answer with citations. Loads the chat model for this one question."""
    from app.core.documents.answer import answer
    from app.core.documents.chat_adapter import load_chat_model

    hits = search(SearchRequest(request.collections, request.question, request.options, request.root), state)
    if state is not None:
        state.progress(None, "loading the chat model")
    model = load_chat_model(request.model_path, n_ctx=request.n_ctx, state=state)
    try:
        if state is not None:
            state.progress(None, "answering")
        return answer(request.question, hits, model, max_tokens=request.max_tokens, temperature=request.temperature,
                      seed=request.seed, min_similarity=request.min_similarity, state=state)
    finally:
        model.close()


@dataclass
class ChangeEmbedder:
    collection: str
    model: str
    root: Path | None = None


def change_embedder(request: ChangeEmbedder, state) -> IndexReport:
    """Switch a collection to another embedding model and re-embed every file."""
    from app.core.documents import embedder as embedders

    store = Store(request.root)
    info = store.get(request.collection)
    embedders.resolve(request.model or embedders.BUILTIN)
    store.set_model(info, request.model or embedders.BUILTIN)
    return index_collection(IndexRequest(request.collection, root=request.root, create=False), state)


def remove_collection_job(name: str, state=None) -> str:
    remove_collection(name)
    return name
