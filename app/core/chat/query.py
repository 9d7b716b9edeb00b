"""Query expansion with the loaded chat model, before a documents search: follow-up rewrite and HyDE.

- Follow-up rewrite (query rewriting for conversational search, e.g. Yu et al., "Few-Shot Generative Conversational
  Query Rewriting", SIGIR 2020): "and on Windows?" says nothing a search can use; the model rewrites it, from the
  conversation, into a standalone question ("How do I install the driver on Windows?") that is searched instead.
  Only done when the conversation has an earlier question. A rewrite that comes back empty, runs on (an answer,
  not a question) or drops a word of the follow-up is not used: a short follow-up that reads as a continuation
  ("and …", "what about …", a pronoun) is then searched after the previous question, anything else on its own.
- HyDE (Gao, Ma, Lin & Callan, "Precise Zero-Shot Dense Retrieval without Relevance Labels", ACL 2023): the model
  writes a short passage that would answer the question; its embedding, added to the question's, is the dense
  query (the retriever's `dense_text`). Keyword search keeps the question's own words, so an invented detail of
  the passage cannot bring in keyword matches.

Both run greedily, stream nothing to the user and report their cost in milliseconds. They use ChatModel.chat (a
local model or a remote connection alike); `model` needs only chat().
"""

from __future__ import annotations

import re
import time

# Tried with Qwen2.5-Coder-0.5B-Instruct on three follow-ups: this plain form rewrote "What about its warranty?" into
# "What is the warranty for the Lumen heater?"; showing the assistant's answers or a worked example made it repeat
# the example or the earlier question instead (the guard in rewrite_followup catches that).
REWRITE_SYSTEM = "You turn a follow-up question into a complete question."
REWRITE_INSTRUCTION = ("Write the follow-up as one complete question that names what it is about. Reply with the "
                       "question only.")
HYDE_SYSTEM = "You write short passages of technical documentation."
HYDE_INSTRUCTION = (
    "Write a short passage (two or three sentences), as a user manual would put it, that answers this question. "
    "Write only the passage.\n\nQuestion: {question}")
TURN_CHARS = 400  # the questions are cut to this many characters in the rewrite prompt
SHORT = 3  # a follow-up with at most this many content words needs the previous question (fallback_query)
MAX_CHARS = 300  # a longer "rewrite" is an answer, not a question
CONTINUING = frozenset("and or but also plus same".split())
ANAPHORA = frozenset("it its it's that this these those they them their there one ones".split())
_PREFIX = re.compile(r"^\s*(?:rewritten(?: question)?|standalone question|question)\s*:\s*", re.IGNORECASE)


def has_earlier_question(messages: list[dict]) -> bool:
    """The conversation has a user message before its latest one (the latest may be a follow-up)."""
    return sum(1 for m in messages if m.get("role") == "user") >= 2


def _clip(text: str, limit: int = TURN_CHARS) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"


def rewrite_prompt(messages: list[dict]) -> list[dict]:
    """The chat messages that ask for a standalone version of the latest user message, given the user message
    before it (each cut to TURN_CHARS characters)."""
    users = [m.get("content") or "" for m in messages if m.get("role") == "user"]
    earlier = _clip(users[-2]) if len(users) > 1 else ""
    user = f"Earlier question: {earlier}\nFollow-up question: {_clip(users[-1] if users else '')}\n\n{REWRITE_INSTRUCTION}"
    return [{"role": "system", "content": REWRITE_SYSTEM}, {"role": "user", "content": user}]


def _clean(text: str) -> str:
    line = next((ln for ln in text.strip().splitlines() if ln.strip()), "")
    return _PREFIX.sub("", line).strip().strip('"“”').strip()


def _terms(text: str) -> list[str]:
    from app.core.documents.retriever import keywords

    return keywords(text)


def _keeps(rewritten: str, question: str) -> bool:
    """The rewrite keeps every content word of the follow-up (compared on their first 5 letters, so "installing"
    keeps "install"): a rewrite adds context, it does not change the question."""
    have = {t[:5] for t in _terms(rewritten)}
    return all(t[:5] in have for t in _terms(question))


def depends_on_context(question: str) -> bool:
    """The question reads as a continuation: it opens with "and", "or", "but", "also", "what about", "how about" or
    "same", or refers back with a pronoun ("it", "its", "that", "they", "there" …)."""
    words = re.findall(r"[a-z']+", question.lower())
    if not words:
        return False
    opening = " ".join(words[:2])
    return (words[0] in CONTINUING or opening in ("what about", "how about")
            or any(w in ANAPHORA for w in words))


def fallback_query(messages: list[dict]) -> str:
    """What is searched when the rewrite is unusable: a short follow-up (at most SHORT content words) that reads as
    a continuation ("and on Windows?", depends_on_context) after the previous user question; anything else on its
    own ("Who painted the Mona Lisa?" is a new question)."""
    users = [m.get("content") or "" for m in messages if m.get("role") == "user"]
    if not users:
        return ""
    if len(users) < 2 or len(_terms(users[-1])) > SHORT or not depends_on_context(users[-1]):
        return users[-1]
    return " ".join(_clip(u) for u in users[-2:]).strip()


def rewrite_followup(model, messages: list[dict], state=None) -> tuple[str, float]:
    """A standalone version of the latest user message of `messages`, written by `model` from the conversation
    (greedy, at most 48 tokens, its first line). Returns (query, milliseconds spent). The latest message itself when there
    is no earlier question; fallback_query when the rewrite is empty, longer than MAX_CHARS characters or drops a
    content word of the follow-up (_keeps). Raises JobCancelled when `state` is cancelled."""
    question = next((m.get("content") or "" for m in reversed(messages) if m.get("role") == "user"), "")
    if not has_earlier_question(messages):
        return question, 0.0
    started = time.perf_counter()
    result = model.chat(rewrite_prompt(messages), max_tokens=48, temperature=0.0, seed=0,
                        policy="truncate_middle")
    if state is not None:
        state.check()
    rewritten = _clean(result.text)
    ms = (time.perf_counter() - started) * 1000
    if not rewritten or len(rewritten) > MAX_CHARS or not _keeps(rewritten, question):
        return fallback_query(messages), ms
    return rewritten, ms


def hypothetical_passage(model, question: str, state=None, max_tokens: int = 96) -> tuple[str, float]:
    """A short passage `model` writes to answer `question` (greedy, at most `max_tokens` tokens): HyDE's
    hypothetical document, embedded for the dense search. Returns (passage, milliseconds spent); "" when the model
    wrote nothing. Raises JobCancelled when `state` is cancelled."""
    started = time.perf_counter()
    messages = [{"role": "system", "content": HYDE_SYSTEM},
                {"role": "user", "content": HYDE_INSTRUCTION.format(question=question.strip())}]
    result = model.chat(messages, max_tokens=max_tokens, temperature=0.0, seed=0, policy="truncate_middle")
    if state is not None:
        state.check()
    return result.text.strip(), (time.perf_counter() - started) * 1000
