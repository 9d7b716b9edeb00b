"""Chat with documents: a conversation with collections attached answers its latest message from their passages.

For each reply: search every attached collection for the latest user message (one fused ranking, best
`k` kept), keep the relevant passages (answer.relevant), number them as sources, and put them into the latest
turn of the conversation (answer.build_messages), with the conversation's own system prompt kept first. The
sources get the room the history leaves free, but at least half of the prompt budget: older turns are then
dropped by the context policy, never the sources of the question being asked. After the reply, citations are
checked against the sources given ([n] naming no source is removed). When nothing relevant is found the model
is told so and the reply is marked `nothing_found`.

A collection that no longer exists, or whose embedding model is not installed, is left out with a clear
`problem`; the reply still goes ahead with the others (or as a plain chat reply when none is left).
Nothing here loads a model that is not cached: the embedder comes from embedder.get_embedder (one per process)
and the retriever (with its store connection) is held by the caller across turns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from app.core.chat import context as ctxpolicy
from app.core.documents.answer import (NOTHING_FOUND_PROMPT, SYSTEM_PROMPT, Source, build_messages,
                                       parse_citations, relevant, to_sources)
from app.core.errors import UserError

FRAMING_TOKENS = 32  # "Sources:", "Question:", "Answer (cite sources as [n]):" and template tokens around them


@dataclass
class DocumentsRequest:
    """Which collections a reply may use, and how to search them."""

    collections: list[str]
    k: int = 5  # passages kept after fusing the collections' rankings (DocumentsSettings.answer_k)
    min_similarity: float = 0.3
    options: object | None = None  # retriever.SearchOptions; None: hybrid with defaults
    root: Path | None = None  # documents store folder; None: the user's


@dataclass
class DocumentsUse:
    """What a reply drew on: persisted in the assistant message's info (JSON) and shown by the GUI."""

    collections: list[str]  # the collections that were searched
    sources: list[Source] = field(default_factory=list)  # numbered passages the model was given
    cited: list[int] = field(default_factory=list)
    invalid: list[int] = field(default_factory=list)  # citations of sources that do not exist (removed)
    nothing_found: bool = False
    problems: list[str] = field(default_factory=list)  # collections left out, and why

    def to_json(self) -> dict:
        return {"collections": list(self.collections), "nothing_found": self.nothing_found,
                "sources": [source_json(s) for s in self.sources], "cited": list(self.cited),
                "invalid_citations": list(self.invalid), "problems": list(self.problems)}

    @classmethod
    def from_json(cls, data: dict | None) -> "DocumentsUse | None":
        if not isinstance(data, dict):
            return None
        sources = [Source(int(s["n"]), s["file"], s.get("page"), s.get("page_end", s.get("page")),
                          s.get("heading") or "", s.get("text", ""), float(s.get("score") or 0.0))
                   for s in data.get("sources") or []]
        return cls(list(data.get("collections") or []), sources, list(data.get("cited") or []),
                   list(data.get("invalid_citations") or []), bool(data.get("nothing_found")),
                   list(data.get("problems") or []))

    @property
    def note(self) -> str:
        """One line for the user when there is something to say besides the sources."""
        if self.nothing_found:
            return f"Nothing relevant was found in {names(self.collections)}."
        return ""


def source_json(source: Source) -> dict:
    return {**source.to_json(), "page_end": source.page_end}


def names(collections: list[str]) -> str:
    quoted = [f"“{c}”" for c in collections]
    if len(quoted) <= 1:
        return quoted[0] if quoted else "the attached collections"
    return ", ".join(quoted[:-1]) + " and " + quoted[-1]


def latest_question(messages: list[dict]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return message.get("content") or ""
    return ""


def retrieve(request: DocumentsRequest, question: str, retriever=None, state=None):
    """Hits for `question` from every usable attached collection. Returns (hits, searched names, problems)."""
    from app.core.documents import embedder as embedders
    from app.core.documents.retriever import Retriever, SearchOptions

    retriever = retriever or Retriever(root=request.root)
    problems: list[str] = []
    infos = []
    for name in dict.fromkeys(request.collections):  # keep order, drop repeats
        info = retriever.store.find(name)
        if info is None:
            problems.append(f"The collection “{name}” no longer exists, so this reply did not use it. "
                            "Detach it, or make it again in the Documents tab.")
            continue
        try:
            embedders.get_embedder(info.model)  # loaded once per process, then cached
        except UserError as exc:
            problems.append(f"The collection “{name}” cannot be searched: {exc}")
            continue
        infos.append(info)
    if state is not None:
        state.check()
    if not infos:
        return [], [], problems
    options = request.options or SearchOptions()
    options = SearchOptions(**{**options.__dict__, "k": max(1, int(request.k))})
    try:
        hits = retriever.search(infos, question, options)
    except UserError as exc:  # e.g. a reranker that is no longer installed
        problems.append(f"Searching {names([i.name for i in infos])} failed: {exc}")
        return [], [], problems
    return hits, [i.name for i in infos], problems


def _with_system(conversation_system: str, instructions: str) -> str:
    own = conversation_system.strip()
    return f"{own}\n\n{instructions}" if own else instructions


def ground(history: list[dict], sources: list[Source], count_tokens, count_messages, n_ctx: int,
           max_tokens: int) -> tuple[list[dict], list[Source]]:
    """The conversation's messages with the sources put into its latest user turn. Returns the messages and the
    sources that fit (the best first). With no sources: the model is told that nothing relevant was found."""
    conv_system = history[0]["content"] if history and history[0]["role"] == "system" else ""
    turns = history[1:] if history and history[0]["role"] == "system" else list(history)
    if not turns or turns[-1]["role"] != "user":
        raise UserError("There is no question to look up in the documents: the last message is not yours.")
    question = turns[-1]["content"]
    earlier = turns[:-1]
    if not sources:
        system = {"role": "system", "content": _with_system(conv_system, NOTHING_FOUND_PROMPT)}
        return [system, *earlier, turns[-1]], []
    system = {"role": "system", "content": _with_system(conv_system, SYSTEM_PROMPT)}
    budget = n_ctx - ctxpolicy.reserve_for_reply(n_ctx, max_tokens)
    minimal = count_messages([system, turns[-1]]) + FRAMING_TOKENS
    whole = count_messages([system, *earlier, turns[-1]]) + FRAMING_TOKENS if earlier else minimal
    room = min(budget - minimal, max(budget - whole, (budget - minimal) // 2))
    # build_messages counts SYSTEM_PROMPT + question + 32 itself before the sources: give it that on top.
    base = count_tokens(SYSTEM_PROMPT + question) + 32
    built, given = build_messages(question, sources, count_tokens, base + max(0, room))
    return [system, *earlier, {"role": "user", "content": built[-1]["content"]}], given


def check_reply(text: str, use: DocumentsUse) -> str:
    """Keep only citations of sources the model was given; fills use.cited / use.invalid. Returns the text."""
    cleaned, cited, invalid = parse_citations(text, use.sources)
    use.cited, use.invalid = cited, invalid
    return cleaned


def prepare(model, messages: list[dict], request: DocumentsRequest, max_tokens: int, retriever=None,
            state=None) -> tuple[list[dict], DocumentsUse]:
    """Retrieve for the latest user message and build the messages to send. `model` needs count_tokens,
    count_messages and n_ctx (a ChatModel)."""
    question = latest_question(messages)
    if state is not None:
        state.progress(None, "Searching documents")
    hits, searched, problems = retrieve(request, question, retriever, state)
    if not searched:  # nothing could be searched: a plain chat reply, with the problems said
        return messages, DocumentsUse([], problems=problems)
    sources = to_sources(relevant(hits, request.min_similarity))
    grounded, given = ground(messages, sources, model.count_tokens, model.count_messages, model.n_ctx,
                             max_tokens)
    return grounded, DocumentsUse(searched, given, nothing_found=not given, problems=problems)


def reply(model, messages: list[dict], request: DocumentsRequest, *, state=None, retriever=None,
          policy: str = "truncate_middle", on_prompt=None, **sampling):
    """One chat turn that uses the attached collections. Returns the ChatResult with `documents` set and its text
    citation-checked. The sources are also sent as a partial ({"documents": ...}) before the reply streams."""
    max_tokens = int(sampling.get("max_tokens", 512))
    grounded, use = prepare(model, messages, request, max_tokens, retriever, state)
    if state is not None:
        state.partial({"documents": use.to_json()})
    result = model.chat(grounded, state=state, policy=policy, on_prompt=on_prompt, **sampling)
    if use.collections:
        result.text = check_reply(result.text, use)
    result.documents = use
    return result
