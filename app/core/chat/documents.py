"""Chat with documents: a conversation with collections attached answers its latest message from their passages.

For each reply: when the conversation has an earlier question, rewrite the latest one into a standalone question
with the loaded model (chat/query.py; `DocumentsRequest.rewrite`), optionally draft a HyDE passage for the dense
search (`hyde`); search every attached collection for it (one fused ranking, best `k` kept),
keep the relevant passages (citations.relevant), number them as sources, and put them into the latest turn of the
conversation (citations.build_messages), with the conversation's own system prompt kept first. The sources get the
room the history leaves free, but at least half of the prompt budget: older turns are then dropped by the context
policy, never the sources of the question being asked. After the reply, citations are checked against the sources
given ([n] naming no source is removed; a reply that is only citations, repeats the instructions or pastes the
excerpts back is made again with a stricter format, and if it still is, the sources' best-matching sentences are
shown instead, marked; one in sentences that cites nothing gets citations by word overlap, marked). When nothing
relevant is found the model is told so and the reply is marked `nothing_found`. This is the one "answer with citations" path: the Chat tab, `hearth chat --collection`
and `hearth docs ask` all come here.

A collection that no longer exists, or whose embedding model is not installed, is left out with a clear
`problem`; the reply still goes ahead with the others (or as a plain chat reply when none is left).
Nothing here loads a model that is not cached: the embedder comes from embedder.get_embedder (one per process)
and the retriever (with its store connection) is held by the caller across turns.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from app.core.chat import context as ctxpolicy
from app.core.chat.attribution import attribute, extract_answer
from app.core.chat.citations import (ANSWER_FORMAT, NOTHING_FOUND_PROMPT, SYSTEM_PROMPT, DocumentsUse, Source,
                                     answer_problem, build_messages, check_reply, names, relevant, to_sources)
from app.core.errors import UserError

# "Excerpts from the user's documents:", "Question:", the blank lines and the template tokens around them (~50
# characters, ~15 tokens: generous, so that it holds for any tokenizer)
FRAMING_TOKENS = 56


@dataclass
class DocumentsRequest:
    """Which collections a reply may use, and how to search them."""

    collections: list[str]
    k: int = 5  # passages kept after fusing the collections' rankings (DocumentsSettings.answer_k)
    min_similarity: float = 0.3
    options: object | None = None  # retriever.SearchOptions; None: hybrid with defaults
    root: Path | None = None  # documents store folder; None: the user's
    rewrite: bool = True  # a follow-up is rewritten into a standalone question first (chat/query.py)
    hyde: bool = False  # the dense search also uses a hypothetical answer passage (chat/query.py)

    @classmethod
    def from_settings(cls, collections: list[str], docs, **overrides) -> "DocumentsRequest":
        """The request for `collections` under a DocumentsSettings section: its answer_k, min_similarity and search
        options. `overrides` (k, mode, reranker; None = keep) change the search options. Raises UserError for an
        unknown search mode."""
        from app.core.documents.jobs import options_from_settings

        k = overrides.pop("k", None) or docs.answer_k
        options = options_from_settings(docs, k=k, **overrides)
        return cls(list(collections), k=options.k, min_similarity=docs.min_similarity, options=options)


@dataclass(frozen=True)
class SearchingDocuments:
    """Partial: the reply is searching these collections (sent before anything else; again with `query` set when
    the search uses a rewritten question rather than the user's words)."""

    collections: tuple[str, ...]
    query: str = ""


@dataclass(frozen=True)
class DocumentsFound:
    """Partial: what the reply is about to draw on, sent before it streams (its `cited` is filled only in the
    finished ChatResult.documents)."""

    use: DocumentsUse


def latest_question(messages: list[dict]) -> str:
    """The content of the last user message ("" when there is none)."""
    for message in reversed(messages):
        if message.get("role") == "user":
            return message.get("content") or ""
    return ""


def retrieve(request: DocumentsRequest, question: str, retriever=None, state=None, dense_text: str = ""):
    """Hits for `question` from every usable attached collection (one fused ranking of at most request.k);
    `dense_text` (HyDE) joins the question in the dense search. Returns (hits, searched collection names,
    problems). Raises JobCancelled when `state` is cancelled."""
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
    from app.core.documents.jobs import indexing_notes

    # Asked while a collection is indexing: it is searched as far as it is indexed, and the reply says so.
    problems.extend(f"“{n.collection}”: {n.note}" for n in indexing_notes(retriever.store, infos))
    options = request.options or SearchOptions()
    options = SearchOptions(**{**options.__dict__, "k": max(1, int(request.k))})
    try:
        hits = retriever.search(infos, question, options, dense_text=dense_text or None)
    except UserError as exc:  # e.g. a reranker that is no longer installed
        problems.append(f"Searching {names([i.name for i in infos])} failed: {exc}")
        return [], [], problems
    return hits, [i.name for i in infos], problems


def search_question(messages: list[dict], use: DocumentsUse) -> str:
    """The question the sources were found for: the rewritten follow-up when there was one, else the user's
    latest message."""
    return use.searched_for or latest_question(messages)


def _with_system(conversation_system: str, instructions: str) -> str:
    own = conversation_system.strip()
    return f"{own}\n\n{instructions}" if own else instructions


def ground(history: list[dict], sources: list[Source], count_tokens, count_messages, n_ctx: int,
           max_tokens: int, strict: bool = False) -> tuple[list[dict], list[Source]]:
    """The conversation's messages with the sources put into its latest user turn. `count_tokens` (text → tokens)
    and `count_messages` (messages → prompt tokens) measure against `n_ctx` less the reply's reserve. Returns the
    messages and the sources that fit (the best first). With no sources: the model is told that nothing relevant was
    found. `strict`: the second try's answer format (citations.STRICT_FORMAT). Raises UserError when the last
    message is not the user's."""
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
    framing = count_tokens(ANSWER_FORMAT) + FRAMING_TOKENS
    minimal = count_messages([system, turns[-1]]) + framing
    whole = count_messages([system, *earlier, turns[-1]]) + framing if earlier else minimal
    room = min(budget - minimal, max(budget - whole, (budget - minimal) // 2))
    # build_messages counts SYSTEM_PROMPT + question + ANSWER_FORMAT + 16 itself before the sources: give it that.
    base = count_tokens(SYSTEM_PROMPT + question + ANSWER_FORMAT) + 16
    built, given = build_messages(question, sources, count_tokens, base + max(0, room), strict)
    return [system, *earlier, {"role": "user", "content": built[-1]["content"]}], given


def prepare(model, messages: list[dict], request: DocumentsRequest, max_tokens: int, retriever=None,
            state=None) -> tuple[list[dict], DocumentsUse]:
    """Retrieve for the latest user message and build the messages to send. `model` needs count_tokens,
    count_messages and n_ctx (a ChatModel). Sends SearchingDocuments to state.partial first."""
    from app.core.chat import query as expansion

    question = latest_question(messages)
    if state is not None:
        state.partial(SearchingDocuments(tuple(request.collections)))
        state.progress(None, "Searching documents")
    search_for, passage, spent = question, "", {}
    if request.rewrite and expansion.has_earlier_question(messages):
        search_for, spent["rewrite"] = expansion.rewrite_followup(model, messages, state)
        if state is not None and search_for != question:
            state.partial(SearchingDocuments(tuple(request.collections), search_for))
    if request.hyde:
        passage, spent["hyde"] = expansion.hypothetical_passage(model, search_for, state)
    hits, searched, problems = retrieve(request, search_for, retriever, state, passage)
    if not searched:  # nothing could be searched: a plain chat reply, with the problems said
        return messages, DocumentsUse([], problems=problems)
    sources = to_sources(relevant(hits, request.min_similarity))
    grounded, given = ground(messages, sources, model.count_tokens, model.count_messages, model.n_ctx,
                             max_tokens)
    return grounded, DocumentsUse(searched, given, nothing_found=not given, problems=problems,
                                  searched_for=search_for if search_for != question else "",
                                  expansion_ms={k: round(v, 1) for k, v in spent.items()})


@dataclass(frozen=True)
class ReplyRestarted:
    """Partial: the text streamed so far is dropped; the reply is being made again (citations.answer_problem found
    it was only citations, repeated the instructions or pasted the excerpts back). `problem` is what was wrong:
    "bare" | "echo" | "list"."""

    problem: str


def reply(model, messages: list[dict], request: DocumentsRequest, *, state=None, retriever=None,
          policy: str = "truncate_middle", **sampling):
    """One chat turn that uses the attached collections. Returns the ChatResult with `documents` set and its text
    citation-checked. The sources are also sent as a DocumentsFound partial before the reply streams.

    A reply that is only citations, repeats the instructions or pastes the excerpts back (citations.answer_problem;
    small models do) is made once more, greedily, with the stricter format (citations.STRICT_FORMAT), after a
    ReplyRestarted partial; if that one is no better, `documents.answer_problem` says what was wrong and the text
    becomes the sources' sentences that best match the question, quoted and cited (attribution.extract_answer;
    `documents.extracted`; DocumentsUse.note says so), or, when no sentence matches well enough and the reply is
    only citations or the instructions, the note itself. A reply in sentences that cites nothing gets citations by
    word overlap (attribution.attribute; `documents.attributed`)."""
    max_tokens = int(sampling.get("max_tokens", 512))
    grounded, use = prepare(model, messages, request, max_tokens, retriever, state)
    if state is not None:
        state.partial(DocumentsFound(use))
    draft = {"draft": True} if use.sources else {}  # prompt lookup, when loaded with it: answers quote sources
    result = model.chat(grounded, state=state, policy=policy, **sampling, **draft)
    if use.collections:
        problem = answer_problem(result.text) if use.sources and result.stopped != "cancelled" else ""
        if problem:
            if state is not None:
                state.partial(ReplyRestarted(problem))
            strict, _ = ground(messages, use.sources, model.count_tokens, model.count_messages, model.n_ctx,
                               max_tokens, strict=True)
            result = model.chat(strict, state=state, policy=policy, **{**sampling, "temperature": 0.0}, **draft)
            use = replace(use, retried=True)
            if result.stopped != "cancelled":
                use = replace(use, answer_problem=answer_problem(result.text))
        result.text, use = check_reply(result.text, use)
        if use.answer_problem:
            # Twice no answer: the sources' own sentences that best match the question, quoted and cited.
            text, cited = extract_answer(search_question(messages, use), use.sources)
            if text:
                result.text, use = text, replace(use, cited=cited, invalid=[], extracted=True)
            elif use.answer_problem in ("bare", "echo"):  # "[1] [2]" or the instructions: say so instead
                result.text, use = f"({use.note})", replace(use, cited=[], invalid=[])
        elif use.sources and not use.cited and result.stopped != "cancelled":
            result.text, added = attribute(result.text, use.sources, search_question(messages, use))
            if added:
                use = replace(use, cited=added, attributed=True)
    result.documents = use
    return result
