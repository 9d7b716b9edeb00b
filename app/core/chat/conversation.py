"""The chat turn, as plain objects: the Chat tab, `hearth chat`, `hearth docs ask` (and the server) all go through it.

    conversation = Conversation(ConversationStore(), conversation_id)      # or Conversation.in_memory()
    turn = conversation.send("Hello", TurnOptions(sampling, collections=["manual"], documents=settings.documents))
    result = run(turn.job(engine), JobState(on_partial=turn.feed))       # any runner: GUI, CLI, server
    conversation.finish(turn, result)          # or conversation.keep_stopped(turn) when it was cancelled

`send` stores the user message and builds the ReplyRequest from the current branch (system prompt first, the
attached collections as a DocumentsRequest); `regenerate` and `edit` make a new branch the same way. The Turn is
the reply in flight: `feed` takes the job's partials (from whatever thread delivers them to the caller) and keeps
its text, timing and sources; `finish` stores a finished reply with its figures and checked citations, and
`keep_stopped` what came of a stopped one, keeping only the citations that name a source it was given.

A stateless caller (an HTTP request carrying its own messages) needs no store: `TurnOptions.request(messages)` is
the ReplyRequest and `Turn(request=...)` accumulates the stream. Nothing here runs a job or touches a thread.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from app.core.chat.citations import DocumentsUse, check_reply
from app.core.chat.documents import DocumentsFound, DocumentsRequest, ReplyRestarted, SearchingDocuments
from app.core.chat.jobs import ChatEngine, ChatResult, ReplyRequest
from app.core.chat.llama import PromptRead, Token
from app.core.chat.presets import Sampling, preset
from app.core.chat.store import ConversationStore, Message
from app.core.errors import UserError
from app.core.jobs import Job


@dataclass
class TurnOptions:
    """How replies are made: sampling, context policy, the collections they answer from (searched with the
    `documents` settings section, `search` overriding its k / mode / reranker; `rewrite` and `hyde` the query
    expansion of chat/query.py), extra stop strings and an output grammar (GBNF)."""

    sampling: Sampling = field(default_factory=Sampling)
    policy: str = "truncate_middle"
    collections: list[str] = field(default_factory=list)
    documents: object | None = None  # a DocumentsSettings; None: its defaults
    search: dict = field(default_factory=dict)
    stop: list[str] = field(default_factory=list)
    grammar: str | None = None
    rewrite: bool = True  # rewrite a follow-up into a standalone question before searching (ChatSettings)
    hyde: bool = False  # search with a hypothetical answer passage too (ChatSettings)

    @classmethod
    def for_conversation(cls, stored: dict | None, chat, documents=None, preset_name: str | None = None
                         ) -> "TurnOptions":
        """The options a stored conversation's settings dict gives ({"sampling", "preset", "policy",
        "collections"}), under a ChatSettings section: the preset (`preset_name`, the stored one, the settings'
        one) overlaid with the stored sampling values; the stored policy, else the settings' one."""
        stored = stored or {}
        sampling = preset(preset_name or stored.get("preset") or chat.preset, chat.user_presets)
        sampling = Sampling.from_dict({**sampling.to_dict(), **(stored.get("sampling") or {})})  # a copy
        return cls(sampling, stored.get("policy") or chat.overflow_policy, list(stored.get("collections") or []),
                   documents, rewrite=chat.rewrite_followups, hyde=chat.hyde)

    def settings(self) -> dict:
        """What a conversation stores of these options: {"sampling", "policy", "collections"}."""
        return {"sampling": self.sampling.to_dict(), "policy": self.policy, "collections": list(self.collections)}

    def documents_request(self) -> DocumentsRequest | None:
        """The DocumentsRequest for the attached collections (None without any). Raises UserError for an unknown
        search mode."""
        if not self.collections:
            return None
        from app.core.settings import DocumentsSettings

        request = DocumentsRequest.from_settings(self.collections, self.documents or DocumentsSettings(),
                                                 **self.search)
        request.rewrite, request.hyde = self.rewrite, self.hyde
        return request

    def request(self, messages: list[dict]) -> ReplyRequest:
        """The ReplyRequest for `messages` ([{"role", "content"}], system first) under these options."""
        return ReplyRequest(list(messages), self.sampling.kwargs(), self.policy, self.documents_request(),
                            list(self.stop), self.grammar)


@dataclass
class Turn:
    """A reply in flight: what to send (`request`), where it goes (conversation and parent message) and what has
    come so far. Times are time.monotonic() seconds."""

    request: ReplyRequest
    conversation_id: str | None = None
    parent_id: int | None = None
    model: str = ""  # the model's name, stored with the reply
    text: str = ""
    tokens: int = 0  # Token partials received
    started: float = field(default_factory=time.monotonic)
    first_token_at: float | None = None
    prompt: PromptRead | None = None
    searching: tuple[str, ...] = ()  # collections being searched (until the sources come)
    searched_for: str = ""  # the rewritten question searched instead of the user's words ("" when not rewritten)
    documents: DocumentsUse | None = None  # the sources given, once known

    def job(self, engine: ChatEngine) -> Job:
        """The job that makes this reply with `engine` (resource "chat-model": it queues behind a running one)."""
        return engine.reply_job(self.request)

    def feed(self, partial) -> str:
        """Take one partial of the reply job. Returns the text it adds ("" for anything but a Token)."""
        if isinstance(partial, Token):
            if self.first_token_at is None:
                self.first_token_at = time.monotonic()
            self.text += partial.text
            self.tokens += 1
            return partial.text
        if isinstance(partial, ReplyRestarted):  # made again (a bare or echoing answer): start the text over
            self.text, self.tokens, self.first_token_at = "", 0, None
        elif isinstance(partial, PromptRead):
            self.prompt = partial
        elif isinstance(partial, SearchingDocuments):
            self.searching, self.searched_for = partial.collections, partial.query
        elif isinstance(partial, DocumentsFound):
            self.documents, self.searching = partial.use, ()
        return ""

    @property
    def ttft_s(self) -> float | None:
        """Seconds from the start to the first token (None before it)."""
        return None if self.first_token_at is None else self.first_token_at - self.started

    def tokens_per_s(self, now: float | None = None) -> float:
        """Generation speed so far, from the first token on (0 before the second)."""
        if self.first_token_at is None or self.tokens < 2:
            return 0.0
        elapsed = (now or time.monotonic()) - self.first_token_at
        return (self.tokens - 1) / elapsed if elapsed > 0 else 0.0

    @property
    def context_used(self) -> int | None:
        """Prompt tokens + tokens so far (None before the prompt was read)."""
        return None if self.prompt is None else self.prompt.prompt_tokens + self.tokens


class Conversation:
    """One stored conversation (or none yet: `id` None until start/send) and the turns made in it.

    Cheap calls on a ConversationStore; safe on the GUI thread. Raises UserError when the conversation or a
    message no longer exists (deleted meanwhile, e.g. from the CLI)."""

    def __init__(self, store: ConversationStore, conversation_id: str | None = None) -> None:
        self.store = store
        self.id: str | None = None
        if conversation_id:
            self.id = store.get(conversation_id).id

    @classmethod
    def in_memory(cls, system_prompt: str = "") -> "Conversation":
        """A conversation that is not kept (`hearth chat --no-save`, `hearth docs ask`): an in-memory store."""
        conversation = cls(ConversationStore(":memory:"))
        conversation.start(system_prompt=system_prompt)
        return conversation

    # ---- the conversation --------------------------------------------------------------------------------------
    def start(self, model: str = "", system_prompt: str = "", settings: dict | None = None) -> str:
        """Create the stored conversation; returns its id."""
        self.id = self.store.create(model=model, system_prompt=system_prompt, settings=settings or {}).id
        return self.id

    @property
    def record(self):
        """The stored conversation (title, model, system prompt, settings)."""
        return self.store.get(self._need_id())

    def save(self, **fields) -> None:
        """Store changed fields: title, model, system_prompt, settings (a dict)."""
        self.store.update(self._need_id(), **fields)

    def messages(self) -> list[Message]:
        """The messages of the current branch, oldest first (none before start)."""
        return self.store.branch(self.id) if self.id else []

    def history(self) -> list[dict]:
        """The current branch as chat messages, the system prompt first when there is one."""
        return self.store.history(self.id) if self.id else []

    def _need_id(self) -> str:
        if self.id is None:
            raise UserError("This conversation has not been started.")
        return self.id

    # ---- turns -------------------------------------------------------------------------------------------------
    def send(self, text: str, options: TurnOptions, model: str = "", images: list | None = None) -> Turn:
        """Store `text` as the user's message, with `images` (paths or image bytes, copied into the data folder:
        store.keep_image), starting the conversation if needed, and return the turn that answers it. Raises
        UserError for an empty message or an image that cannot be read (then nothing is stored)."""
        if not text.strip() and not images:
            raise UserError("There is nothing to send: the message is empty.")
        if images:
            from app.core.chat.store import images_folder, keep_image

            # checked and copied before anything is stored
            images = [str(images_folder() / keep_image(i)) for i in images]
        if self.id is None:
            self.start(settings=options.settings())
        user = self.store.add_message(self.id, "user", text, images=images)
        return self._turn(user.id, options, model)

    def reply(self, options: TurnOptions, model: str = "") -> Turn:
        """The turn that answers the current branch as it is (its last message must be the user's)."""
        branch = self.messages()
        if not branch or branch[-1].role != "user":
            raise UserError("There is nothing to answer: the last message is not yours.")
        return self._turn(branch[-1].id, options, model)

    def regenerate(self, options: TurnOptions, model: str = "") -> Turn:
        """A new version of the last reply: the old one stays as a branch. Raises UserError when the last message
        is not a stored reply."""
        branch = self.messages()
        if not branch or branch[-1].role != "assistant":
            raise UserError("There is no reply to regenerate.")
        parent = branch[-1].parent_id
        self.store.set_leaf(self.id, parent)
        return self._turn(parent, options, model)

    def edit(self, message_id: int, text: str, options: TurnOptions, model: str = "") -> Turn:
        """A new version of the user's message `message_id` and the turn that answers it; the later messages stay
        on the old branch."""
        new = self.store.edit_user_message(message_id, text)
        return self._turn(new.id, options, model)

    def switch_version(self, message_id: int, step: int) -> bool:
        """Show the previous (step -1) or next (+1) version of a message and its branch. False when there is none."""
        other = self.store.sibling(message_id, step)
        if other is None:
            return False
        self.store.switch_to(other.id)
        return True

    def _turn(self, parent_id: int | None, options: TurnOptions, model: str) -> Turn:
        return Turn(options.request(self.history()), self.id, parent_id, model)

    # ---- results -----------------------------------------------------------------------------------------------
    def finish(self, turn: Turn, result: ChatResult) -> Message | None:
        """Store a finished reply under its user message, with its figures, sampling and sources (citations
        already checked by the reply job). None when the conversation was deleted meanwhile."""
        info = {**result.to_dict(), "text": None, "note": result.note, "sampling": turn.request.sampling}
        return self._store(turn, result.text, info)

    def keep_stopped(self, turn: Turn) -> Message | None:
        """Store what came of a stopped reply, with its sources and only the citations that name one of them.
        None when nothing came or the conversation was deleted meanwhile."""
        if not turn.text:
            return None
        text = turn.text
        info = {"stopped": "cancelled", "completion_tokens": turn.tokens, "sampling": turn.request.sampling}
        use = turn.documents
        if use is not None:
            if use.collections:
                text, use = check_reply(text, use)
            info["documents"] = use.to_json()
        return self._store(turn, text, info)

    def _store(self, turn: Turn, text: str, info: dict) -> Message | None:
        if turn.conversation_id is None:
            return None
        try:
            return self.store.add_message(turn.conversation_id, "assistant", text, parent_id=turn.parent_id,
                                          model=turn.model, info=info)
        except UserError:  # the conversation was deleted meanwhile
            return None
