"""Chat tab: conversations on the left, messages in the middle, settings on the right.

Views only: loading and replying are jobs (app/core/chat/jobs.py) naming the "chat-model" resource; streamed
text is buffered here and painted at most every 30 ms into the one row that is growing. A conversation can
answer from document collections (the picker by the composer); the reply job searches them, and the passages
it drew on are shown in the sources panel under the messages, its citations [n] linking to file and page.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from PySide6.QtCore import QEvent, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.core.chat.documents import DocumentsRequest, DocumentsUse, check_reply
from app.core.chat.jobs import RESOURCE, ChatEngine, LoadRequest, ReplyRequest
from app.core.chat.store import ConversationStore
from app.core.errors import UserError
from app.core.jobs import Job
from app.ui.chat.collections_picker import CollectionsPicker
from app.ui.chat.messages import MessageDelegate, MessageModel, MessageView, Row
from app.ui.chat.model_bar import ModelBar
from app.ui.chat.settings_panel import ChatSettingsPanel
from app.ui.chat.sidebar import ConversationSidebar
from app.ui.chat.sources_panel import SourcesPanel
from app.ui.context import AppContext
from app.ui.open_file import open_url
from app.ui.widgets import EmptyState

log = logging.getLogger(__name__)
REPAINT_MS = 30


class ChatTab(QWidget):
    sig_model_loaded = Signal(object)  # LoadInfo
    sig_reply_finished = Signal(str)  # "done" | "cancelled" | "error"

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.cs = ctx.settings.chat
        self.engine = ChatEngine()
        try:
            self.store = ConversationStore()
        except UserError as exc:  # unreadable database: keep working in memory and say so
            ctx.show_message(str(exc), "warning")
            self.store = ConversationStore(":memory:")
        self.conv_id: str | None = None
        self.load_info = None
        self.load_handle = None
        self.reply_handle = None
        self._reply: dict = {}
        self._pending: list[str] = []
        self._closing = False
        self._doc_store = None  # the documents store, opened when the collections are first listed

        outer = QHBoxLayout(self)
        outer.setContentsMargins(4, 4, 4, 4)
        split = QSplitter(Qt.Orientation.Horizontal)
        outer.addWidget(split)
        self.sidebar = ConversationSidebar(self.store)
        split.addWidget(self.sidebar)

        center = QWidget()
        col = QVBoxLayout(center)
        col.setContentsMargins(4, 0, 4, 0)
        self.model_bar = ModelBar()
        col.addWidget(self.model_bar)
        self.stack = QStackedWidget()
        self.empty = EmptyState(
            "No chat model yet",
            "Get one in Models, or open a .gguf file you already have. "
            "Everything runs on this computer; nothing you type leaves it.",
            [("Go to Models", lambda: ctx.show_tab("models")), ("Open GGUF file…", self.model_bar.open_file)],
        )
        self.stack.addWidget(self.empty)
        chat_page = QWidget()
        page = QVBoxLayout(chat_page)
        page.setContentsMargins(0, 0, 0, 0)
        self.model = MessageModel(self)
        self.view = MessageView()
        self.view.setModel(self.model)
        self.delegate = MessageDelegate(self.view)
        self.view.setItemDelegate(self.delegate)
        self.delegate.sig_action.connect(self._on_action)
        self.delegate.sig_link.connect(self._on_link)
        self.view.customContextMenuRequested.connect(self._context_menu)
        self.sources = SourcesPanel()
        self.sources.hide()
        messages_split = QSplitter(Qt.Orientation.Vertical)
        messages_split.addWidget(self.view)
        messages_split.addWidget(self.sources)
        messages_split.setStretchFactor(0, 3)
        messages_split.setStretchFactor(1, 1)
        messages_split.setChildrenCollapsible(False)
        page.addWidget(messages_split, 1)
        bar = QHBoxLayout()
        self.collections_picker = CollectionsPicker(self._collection_names)
        bar.addWidget(self.collections_picker)
        self.stats = QLabel("")
        self.stats.setObjectName("chatStats")
        bar.addWidget(self.stats, 1)
        page.addLayout(bar)
        row = QHBoxLayout()
        self.composer = QPlainTextEdit()
        self.composer.setPlaceholderText("Message (Enter to send, Shift+Enter for a new line)")
        self.composer.setMaximumHeight(96)
        self.composer.installEventFilter(self)
        row.addWidget(self.composer, 1)
        buttons = QVBoxLayout()
        self.send_button = QPushButton("Send")
        self.send_button.setDefault(True)
        self.send_button.clicked.connect(lambda: self.send())
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stop)
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.stop_button)
        row.addLayout(buttons)
        page.addLayout(row)
        self.stack.addWidget(chat_page)
        col.addWidget(self.stack, 1)
        split.addWidget(center)

        self.panel = ChatSettingsPanel(self.cs)
        self.panel.hide()
        split.addWidget(self.panel)
        split.setStretchFactor(1, 1)
        self.model_bar.settings_button.toggled.connect(self.panel.setVisible)

        self.sidebar.sig_selected.connect(self.open_conversation)
        self.sidebar.sig_new.connect(self.new_conversation)
        self.sidebar.sig_deleted.connect(self._on_deleted)
        self.model_bar.sig_load.connect(self.load_model)
        self.panel.sig_changed.connect(lambda: self._save_conv_timer.start())
        self.panel.sig_template_changed.connect(self.set_template)
        self.panel.sig_reload_needed.connect(
            lambda: self.model_bar.show_text("Load the model again to apply the new context/GPU/thread settings")
            if self.engine.loaded else None)
        ctx.bus.sig_models_changed.connect(lambda: (self.model_bar.refresh(), self._update_page()))
        ctx.bus.sig_collections_changed.connect(self.collections_picker.refresh)
        self.collections_picker.sig_changed.connect(lambda _names: self._save_conv_timer.start())
        self.collections_picker.sig_manage.connect(lambda: ctx.show_tab("documents"))

        self._save_conv_timer = QTimer(self, singleShot=True, interval=400)
        self._save_conv_timer.timeout.connect(self._save_conversation_settings)
        self._flush_timer = QTimer(self, interval=REPAINT_MS)
        self._flush_timer.timeout.connect(self._flush)

        if self.cs.last_model and Path(self.cs.last_model).is_file():
            self.model_bar.select(self.cs.last_model)
            QTimer.singleShot(0, lambda: self.load_model(self.cs.last_model))
        if self.cs.last_conversation:  # pick up where the user left off
            try:
                self.open_conversation(self.cs.last_conversation)
            except UserError:  # deleted meanwhile (e.g. from the CLI)
                self.cs.last_conversation = ""
        self._update_page()

    # ---- pages -------------------------------------------------------------------------------------------------
    def _update_page(self) -> None:
        has_any = bool(self.model_bar.paths()) or self.engine.loaded or self.load_handle is not None
        self.stack.setCurrentIndex(1 if has_any else 0)
        if has_any and not self.engine.loaded and self.load_handle is None and not self.load_info:
            self.model_bar.show_text("Choose a model to start")

    # ---- model -------------------------------------------------------------------------------------------------
    def load_model(self, path: str) -> None:
        self.stop()
        self.model_bar.select(path)
        self.model_bar.show_text(f"Loading {Path(path).name}…")
        req = LoadRequest(path=path, n_ctx=self.cs.context_length or None,
                          gpu_layers=None if self.cs.gpu_layers < 0 else self.cs.gpu_layers,
                          threads=self.cs.threads or None, context_cap=self.cs.context_cap,
                          flash_attn=self.cs.flash_attn, use_mmap=self.cs.use_mmap,
                          template=self.cs.templates.get(path))
        handle = self.ctx.jobs.submit(Job(self.engine.load, req, name=f"Load {Path(path).name}", resource=RESOURCE),
                                      replace="chat-load")
        self.load_handle = handle
        self.load_info = None
        handle.sig_progress.connect(lambda f, t: self.model_bar.show_text(
            f"{t or 'Loading'}… {int((f or 0) * 100)}%") if handle is self.load_handle else None)
        handle.sig_done.connect(lambda info: self._on_loaded(handle, path, info))
        handle.sig_error.connect(lambda msg: self._on_load_failed(handle, msg))
        handle.sig_cancelled.connect(lambda: self._on_load_failed(handle, ""))
        self._update_page()

    def _on_loaded(self, handle, path: str, info) -> None:
        if handle is not self.load_handle:
            return
        self.load_handle = None
        self.load_info = info
        self.model_bar.show_loaded(info)
        self.panel.set_template(self.cs.templates.get(path, "auto"))
        self.cs.last_model = path
        self._update_page()
        self.sig_model_loaded.emit(info)

    def _on_load_failed(self, handle, message: str) -> None:
        if handle is not self.load_handle:
            return
        self.load_handle = None
        self.load_info = None
        self._update_page()
        self.model_bar.show_text(f"Could not load the model: {message}" if message else "Loading cancelled")
        self.model_bar.info.setToolTip(message)

    def set_template(self, key: str) -> None:
        if self.cs.last_model:
            self.cs.templates[self.cs.last_model] = key
        if self.engine.loaded:
            handle = self.ctx.jobs.submit(Job(self.engine.set_template, key, name="Set chat template",
                                              resource=RESOURCE))
            handle.sig_done.connect(lambda info: info and self.model_bar.show_loaded(info))

    # ---- conversations -----------------------------------------------------------------------------------------
    def new_conversation(self) -> None:
        self.stop()
        self.conv_id = None
        self.cs.last_conversation = ""
        self.model.set_rows([])
        self.sidebar.set_current(None)
        self.panel.set_conversation(self.panel.system_prompt(), {})  # a new chat keeps the panel's values
        self.sources.show_use(None)
        self.sources.hide()
        self.stats.setText("")
        self.composer.setFocus()

    def open_conversation(self, cid: str) -> None:
        if cid == self.conv_id:
            return
        conv = self.store.get(cid)
        self.stop()
        self.conv_id = cid
        self.cs.last_conversation = cid
        self.panel.set_conversation(conv.system_prompt, conv.settings)
        self.collections_picker.set_attached(conv.settings.get("collections") or [])
        self.sources.show_use(None)
        self.sources.hide()
        self.sidebar.set_current(cid)
        self.reload_rows()

    def _on_deleted(self, cid: str) -> None:
        if cid == self.conv_id:
            self.new_conversation()

    def reload_rows(self) -> None:
        if self.conv_id is None:
            self.model.set_rows([])
            return
        rows = [Row(m.id, m.role, m.content, m.info, m.sibling_index, m.sibling_count)
                for m in self.store.branch(self.conv_id)]
        self.delegate.last_regenerable = len(rows) - 1 if rows and rows[-1].role == "assistant" else -1
        self.model.set_rows(rows)
        self.view.scrollToBottom()

    def conversation_settings(self) -> dict:
        return {**self.panel.conversation_settings(), "collections": self.collections_picker.attached()}

    def _save_conversation_settings(self) -> None:
        if self.conv_id is not None:
            self.store.update(self.conv_id, system_prompt=self.panel.system_prompt(),
                              settings=self.conversation_settings())

    # ---- documents ---------------------------------------------------------------------------------------------
    def _collection_names(self) -> list[str]:
        from app.core.documents.store import Store

        if self._doc_store is None:
            self._doc_store = Store()
        return [info.name for info in self._doc_store.collections()]

    def _documents_request(self) -> DocumentsRequest | None:
        names = self.collections_picker.attached()
        if not names:
            return None
        from app.core.documents.jobs import options_from_settings

        docs = self.ctx.settings.documents
        return DocumentsRequest(names, k=docs.answer_k, min_similarity=docs.min_similarity,
                                options=options_from_settings(docs, k=docs.answer_k))

    def show_sources(self, index: int, highlight: int | None = None) -> None:
        """Show in the sources panel what the message at row `index` drew on."""
        if 0 <= index < len(self.model.rows):
            row = self.model.rows[index]
            self.sources.show_use(row.documents, row.id, highlight)

    def _on_link(self, href: str, number: int, index: int) -> None:
        """A citation (or other link) clicked in a message: open the file (at its page), show the passage."""
        url = QUrl(href)
        if url.isLocalFile():
            self.show_sources(index, number if number > 0 else None)
        open_url(url)

    # ---- sending and replies -----------------------------------------------------------------------------------
    def eventFilter(self, obj, event) -> bool:  # noqa: N802
        if obj is self.composer and event.type() == QEvent.Type.KeyPress:
            if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not (
                    event.modifiers() & Qt.KeyboardModifier.ShiftModifier):
                self.send()
                return True
        return super().eventFilter(obj, event)

    @property
    def replying(self) -> bool:
        return self.reply_handle is not None

    def send(self, text: str | None = None) -> bool:
        text = self.composer.toPlainText() if text is None else text
        if not text.strip() or self.replying:
            return False
        if not self.engine.loaded:
            self.ctx.show_message("Choose a chat model first (the model picker above the messages)."
                                  if self.load_handle is None else "The model is still loading.", "info")
            return False
        if self.conv_id is None:
            conv = self.store.create(model=self.cs.last_model, system_prompt=self.panel.system_prompt(),
                                     settings=self.conversation_settings())
            self.conv_id = conv.id
            self.cs.last_conversation = conv.id
        else:
            self._save_conversation_settings()
        user = self.store.add_message(self.conv_id, "user", text)
        self.composer.clear()
        self.sidebar.set_current(self.conv_id)
        self.sidebar.refresh()
        self.reload_rows()
        self._start_reply(user.id)
        return True

    def _start_reply(self, parent_id: int) -> None:
        history = self.store.history(self.conv_id)
        sampling = self.panel.sampling()
        req = ReplyRequest(messages=history, sampling=sampling.kwargs(), policy=self.panel.policy_key(),
                           documents=self._documents_request())
        self.engine.live = {}
        self._pending = []
        self._reply = {"conv": self.conv_id, "parent": parent_id, "text": "", "pieces": 0, "start": time.monotonic(),
                       "first": None, "sampling": sampling.to_dict(), "model": self.load_info.name if self.load_info
                       else "", "row": self.model.append(Row(None, "assistant", "", streaming=True)),
                       "documents": None}
        self.delegate.last_regenerable = -1
        self.view.scrollToBottom()
        handle = self.ctx.jobs.submit(Job(self.engine.reply, req, name="Chat reply", resource=RESOURCE))
        self.reply_handle = handle
        handle.sig_partial.connect(self._on_piece)
        handle.sig_done.connect(lambda result: self._on_reply_done(handle, result))
        handle.sig_cancelled.connect(lambda: self._on_reply_stopped(handle, "cancelled"))
        handle.sig_error.connect(lambda msg: self._on_reply_stopped(handle, "error", msg))
        self.send_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self._flush_timer.start()

    def _on_piece(self, piece) -> None:
        if isinstance(piece, dict) and "documents" in piece and self._reply:
            self._on_documents(piece["documents"])
            return
        if isinstance(piece, str) and piece and self._reply:
            if self._reply.get("first") is None:
                self._reply["first"] = time.monotonic()
            self._pending.append(piece)
            self._reply["pieces"] += 1

    def _on_documents(self, data: dict) -> None:
        """The passages the reply is about to draw on (before it streams): show them, say what went wrong."""
        self._reply["documents"] = data
        use = DocumentsUse.from_json(data)
        if use.problems:
            self.ctx.show_message(" ".join(use.problems), "warning")
        if use.collections or use.problems:
            self.sources.show_use(use)

    def _flush(self) -> None:
        r = self._reply
        if not r:
            return
        if self._pending:
            text = "".join(self._pending)
            self._pending = []
            r["text"] += text
            follow = self.view.at_bottom()
            if 0 <= r["row"] < len(self.model.rows):
                self.model.append_text(r["row"], text)
            if follow:
                self.view.scrollToBottom()
        self.stats.setText(self._live_stats())

    def _live_stats(self) -> str:
        r = self._reply
        live = self.engine.live
        parts = []
        now = time.monotonic()
        if r.get("first") is not None:
            gen = now - r["first"]
            if r["pieces"] > 1 and gen > 0:
                parts.append(f"{(r['pieces'] - 1) / gen:.1f} tok/s")
            parts.append(f"first token {r['first'] - r['start']:.2f} s")
        elif live.get("searching"):
            parts.append(f"searching documents… {now - r['start']:.1f} s")
        else:
            parts.append(f"reading the prompt… {now - r['start']:.1f} s")
        if live.get("prompt_tokens"):
            parts.append(f"context {live['prompt_tokens'] + r['pieces']}/{live.get('n_ctx', '?')}")
        return " · ".join(parts)

    def _finish_reply(self) -> dict:
        self._flush()
        self._flush_timer.stop()
        self.reply_handle = None
        self.send_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        r, self._reply = self._reply, {}
        return r

    def _on_reply_done(self, handle, result) -> None:
        if handle is not self.reply_handle:
            return
        r = self._finish_reply()
        info = {**result.to_dict(), "text": None, "note": result.note, "sampling": r["sampling"]}
        message = self._store_reply(r, result.text, info)
        use = result.documents
        if use is not None and (use.collections or use.problems) and r.get("conv") == self.conv_id:
            self.sources.show_use(use, message.id if message else None)
        self.stats.setText(f"{result.tokens_per_s:.1f} tok/s · first token {result.ttft_s:.2f} s · "
                           f"context {result.context_used}/{result.n_ctx}"
                           + (f" · {result.note}" if result.note else ""))
        self.sig_reply_finished.emit("done")

    def _on_reply_stopped(self, handle, how: str, message: str = "") -> None:
        if handle is not self.reply_handle:
            return
        r = self._finish_reply()
        if how == "cancelled" and r.get("text"):
            self._store_partial(r)
        elif r.get("conv") == self.conv_id:
            self.reload_rows()
        if how == "error":
            self.stats.setText(f"The reply failed: {message}")
        self.sig_reply_finished.emit(how)

    def _store_reply(self, r: dict, text: str, info: dict):
        if r.get("conv") is None:
            return None
        message = None
        try:
            message = self.store.add_message(r["conv"], "assistant", text, parent_id=r["parent"], model=r["model"],
                                             info=info)
        except UserError as exc:  # the conversation was deleted meanwhile
            log.info("reply not stored: %s", exc)
        if r["conv"] == self.conv_id and not self._closing:
            self.reload_rows()
        return message

    def _store_partial(self, r: dict):
        """Keep a stopped reply: what came, with its sources and only the citations that name one of them."""
        text = r["text"]
        info = {"stopped": "cancelled", "completion_tokens": r["pieces"], "sampling": r["sampling"]}
        use = DocumentsUse.from_json(r.get("documents"))
        if use is not None:
            if use.collections:
                text = check_reply(text, use)
            info["documents"] = use.to_json()
        return self._store_reply(r, text, info)

    def stop(self) -> None:
        if self.reply_handle is not None:
            self.reply_handle.cancel()

    # ---- message actions ---------------------------------------------------------------------------------------
    def _on_action(self, action: str, index: int) -> None:
        if not 0 <= index < len(self.model.rows):
            return
        row = self.model.rows[index]
        if action == "copy":
            QGuiApplication.clipboard().setText(row.content)
        elif action == "copy_code":
            QGuiApplication.clipboard().setText(_code_blocks(row.content))
        elif action == "edit":
            text, ok = QInputDialog.getMultiLineText(self, "Edit message", "Your message:", row.content)
            if ok and text.strip():
                self.edit_and_resend(row.id, text)
        elif action == "regenerate":
            self.regenerate()
        elif action in ("prev", "next"):
            self.switch_version(row.id, -1 if action == "prev" else 1)
        elif action == "sources":
            self.show_sources(index)

    def _context_menu(self, pos) -> None:
        index = self.view.indexAt(pos)
        if not index.isValid():
            return
        row = self.model.rows[index.row()]
        menu = QMenu(self)
        for key, label in self.delegate.actions(row, index.row()):
            if key == "count":
                continue
            name = {"prev": "Previous version", "next": "Next version"}.get(key, label)
            menu.addAction(name, lambda k=key, i=index.row(): self._on_action(k, i))
        menu.exec(self.view.viewport().mapToGlobal(pos))

    def regenerate(self) -> bool:
        rows = self.model.rows
        if self.replying or not rows or rows[-1].role != "assistant" or rows[-1].id is None:
            return False
        if not self.engine.loaded:
            self.ctx.show_message("Load a chat model to regenerate the reply.", "info")
            return False
        parent = self.store.message(rows[-1].id).parent_id
        self.store.set_leaf(self.conv_id, parent)
        self.reload_rows()
        self._start_reply(parent)
        return True

    def edit_and_resend(self, message_id: int, text: str) -> bool:
        if self.replying:
            return False
        if not self.engine.loaded:
            self.ctx.show_message("Load a chat model to resend the message.", "info")
            return False
        new = self.store.edit_user_message(message_id, text)
        self.reload_rows()
        self._start_reply(new.id)
        return True

    def switch_version(self, message_id: int, step: int) -> None:
        if self.replying:
            return
        other = self.store.sibling(message_id, step)
        if other is not None:
            self.store.switch_to(other.id)
            self.reload_rows()

    # ---- quitting ----------------------------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Stop the reply (keeping what came), stop a load, free the model once its job has let go of it."""
        self._closing = True
        if self.reply_handle is not None:
            handle = self.reply_handle
            r = self._finish_reply()
            handle.cancel()
            if r.get("text"):
                self._store_partial(r)
        if self.load_handle is not None:
            self.load_handle.cancel()
        self._save_conv_timer.stop()
        self._save_conversation_settings()
        self.engine.close_when_idle(3.0)
        if self._doc_store is not None:
            self._doc_store.close()
            self._doc_store = None


def _code_blocks(text: str) -> str:
    out, inside = [], False
    for line in text.splitlines():
        if line.strip().startswith("```"):
            inside = not inside
            continue
        if inside:
            out.append(line)
    return "\n".join(out)

