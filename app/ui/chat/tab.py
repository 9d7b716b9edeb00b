"""Chat tab: conversations on the left, messages in the middle, settings on the right.

Views only: the chat turn (storing messages, the request, keeping a finished or stopped reply, branches) is
app/core/chat/conversation.py; loading and replying are jobs (app/core/chat/jobs.py) naming the "chat-model"
resource. Streamed text is buffered here and painted at most every 30 ms into the one row that is growing. A
conversation can answer from document collections (the picker by the composer); the reply job searches them, and
the passages it drew on are shown in the sources panel under the messages, its citations [n] linking to file and
page.

Images: "Image…", pasting or dropping pictures on the message box attach them (attachments.py shows them above
it); sending copies them into the conversation (store.keep_image) and a vision model — one with a paired
projector, "vision" in the model bar — answers about them. A text-only model, or an image that cannot be read,
gets one sentence and nothing is sent (the text and the images stay). `ask_about_image` (and the bus's
sig_ask_about_image, from the Images gallery and Segment) opens a new chat with a picture attached.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from PySide6.QtCore import QEvent, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMenu,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.core.chat.conversation import Conversation, Turn, TurnOptions
from app.core.chat.documents import ReplyRestarted
from app.core.chat.jobs import RESOURCE, ChatEngine, DocumentsFound, LoadRequest
from app.core.chat.store import ConversationStore
from app.core.connections import is_remote
from app.core.errors import UserError
from app.core.jobs import Job
from app.ui.chat.attachments import AttachmentStrip, Composer
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
    sig_engine_changed = Signal(object)  # LoadInfo or None: the engine loaded or unloaded (maybe for the server)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.cs = ctx.settings.chat
        self.engine: ChatEngine = ctx.engines.chat  # shared with the server: one loaded model
        try:
            self.store = ConversationStore()
        except UserError as exc:  # unreadable database: keep working in memory and say so
            ctx.show_message(str(exc), "warning")
            self.store = ConversationStore(":memory:")
        self.conversation = Conversation(self.store)
        self.load_info = None
        self.load_handle = None
        self.reply_handle = None
        self.turn: Turn | None = None  # the reply in flight
        self._row = -1  # its row in the message list
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
            "Get one in Models, or open a .gguf file you already have (Open GGUF file… above). "
            "Everything runs on this computer; nothing you type leaves it.",
            [("Go to Models", lambda: ctx.show_tab("models"))],
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
        self.attachments = AttachmentStrip()
        page.addWidget(self.attachments)
        row = QHBoxLayout()
        self.composer = Composer()
        self.composer.sig_images.connect(self.attach_images)
        self.composer.setPlaceholderText("Message (Enter to send, Shift+Enter for a new line; paste or drop images)")
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
        self.image_button = QPushButton("Image…")
        self.image_button.setToolTip("Attach images to ask a vision model about them (you can also paste or drop "
                                     "them on the message box)")
        self.image_button.clicked.connect(lambda: self.choose_images())
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.image_button)
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
        self.sidebar.sig_export.connect(lambda cid, fmt: self.export_conversation(cid, fmt))
        self.sidebar.sig_import.connect(lambda: self.import_conversation())
        self.model_bar.sig_load.connect(self.load_model)
        self.panel.sig_changed.connect(lambda: self._save_conv_timer.start())
        self.panel.sig_template_changed.connect(self.set_template)
        self.panel.sig_reload_needed.connect(
            lambda: self.model_bar.show_text("Load the model again to apply the new context/GPU/thread settings")
            if self.engine.loaded else None)
        ctx.bus.sig_models_changed.connect(self._on_models_changed)
        if ctx.remote is not None:
            ctx.remote.sig_changed.connect(self._on_remote_models)
            ctx.remote.ensure()
        self.sig_engine_changed.connect(self._on_engine_changed)
        self.engine.add_listener(self._engine_listener)
        ctx.bus.sig_collections_changed.connect(self.collections_picker.refresh)
        ctx.bus.sig_ask_about_image.connect(self._on_ask_about_image)
        self.collections_picker.sig_changed.connect(lambda _names: self._save_conv_timer.start())
        self.collections_picker.sig_manage.connect(lambda: ctx.show_tab("documents"))

        self._save_conv_timer = QTimer(self, singleShot=True, interval=400)
        self._save_conv_timer.timeout.connect(self._save_conversation_settings)
        self._flush_timer = QTimer(self, interval=REPAINT_MS)
        self._flush_timer.timeout.connect(self._flush)

        if self.engine.loaded:  # the server loaded one before this tab was first shown
            self._on_engine_changed(self.engine.model.load_info)
        elif self.cs.last_model and (Path(self.cs.last_model).is_file() or is_remote(self.cs.last_model)):
            self.model_bar.picker.select(self.cs.last_model)
            QTimer.singleShot(0, lambda: self.load_model(self.cs.last_model))
        if self.cs.last_conversation:  # pick up where the user left off
            try:
                self.open_conversation(self.cs.last_conversation)
            except UserError:  # deleted meanwhile (e.g. from the CLI)
                self.cs.last_conversation = ""
        self._update_page()

    # ---- pages -------------------------------------------------------------------------------------------------
    def _update_page(self) -> None:
        has_any = bool(self.model_bar.picker.paths()) or self.engine.loaded or self.load_handle is not None
        self.stack.setCurrentIndex(1 if has_any else 0)
        if has_any and not self.engine.loaded and self.load_handle is None and not self.load_info:
            self.model_bar.show_text("Choose a model to start")

    def _on_models_changed(self) -> None:
        """The registry changed: list the models again; the first chat model to land (Get started, a download)
        is loaded when none is, so the tab is usable at once."""
        self.model_bar.picker.refresh()
        paths = self.model_bar.picker.paths()
        if len(paths) == 1 and not self.engine.loaded and self.load_handle is None:
            self.load_model(paths[0])
        self._update_page()

    @property
    def conv_id(self) -> str | None:
        """The open conversation's id (None for a new chat not sent yet)."""
        return self.conversation.id

    # ---- model -------------------------------------------------------------------------------------------------
    def load_model(self, path: str) -> None:
        self.stop()
        self.model_bar.picker.select(path)
        self.model_bar.show_text(f"Loading {Path(path).name}…")
        handle = self.ctx.jobs.submit(self.engine.load_job(LoadRequest.from_settings(path, self.cs)),
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

    def _on_remote_models(self) -> None:
        self.model_bar.picker.set_remote(self.ctx.remote.entries("chat"))
        self._update_page()

    def _engine_listener(self, info) -> None:  # the job's thread
        try:
            self.sig_engine_changed.emit(info)
        except RuntimeError:  # the tab is gone
            pass

    def _on_engine_changed(self, info) -> None:
        """The engine loaded (or let go of) a model without this tab asking: the server did. Show what is loaded."""
        if self.load_handle is not None or self._closing:
            return  # the tab's own load: _on_loaded / _on_load_failed say what happened
        if info is None:
            if self.load_info is not None and not self.engine.loaded:
                self.load_info = None
                self.model_bar.show_text("No model loaded")
            return
        if self.load_info is not None and str(self.load_info.path) == str(info.path):
            return
        self.load_info = info
        self.model_bar.picker.select(str(info.path))
        self.model_bar.show_loaded(info)
        self.cs.last_model = str(info.path)
        self._update_page()

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
        self.conversation = Conversation(self.store)
        self.cs.last_conversation = ""
        self.model.set_rows([])
        self.sidebar.set_current(None)
        self.panel.set_conversation(self.panel.system_prompt(), {})  # a new chat keeps the panel's values
        self.sources.show_use(None)
        self.sources.hide()
        self.stats.setText("")
        self.attachments.clear()
        self.composer.setFocus()

    # ---- images ------------------------------------------------------------------------------------------------
    def attach_images(self, images: list) -> None:
        """Attach images (paths or image bytes) to the next message; shown as thumbnails above the message box."""
        self.attachments.add([str(i) if isinstance(i, Path) else i for i in images])

    def choose_images(self, files: list[str] | None = None) -> None:
        """"Image…": pick image files to attach (a file dialog unless `files` are given)."""
        from app.core.imageio import DIALOG_FILTER

        if files is None:
            files, _ = QFileDialog.getOpenFileNames(self, "Attach images", "", f"{DIALOG_FILTER};;All files (*)")
        if files:
            self.attach_images(files)

    def ask_about_image(self, path: str) -> None:
        """Open a new conversation with the image at `path` attached and the message box focused."""
        if self.replying:
            self.stop()
        self.new_conversation()
        self.attach_images([path])
        self.composer.setFocus()

    def _on_ask_about_image(self, path: str) -> None:
        self.ctx.show_tab("chat")
        self.ask_about_image(path)

    def open_conversation(self, cid: str) -> None:
        if cid == self.conv_id:
            return
        conversation = Conversation(self.store, cid)
        conv = conversation.record
        self.stop()
        self.conversation = conversation
        self.cs.last_conversation = cid
        self.panel.set_conversation(conv.system_prompt, conv.settings)
        self.collections_picker.set_attached(conv.settings.get("collections") or [])
        self.sources.show_use(None)
        self.sources.hide()
        self.sidebar.set_current(cid)
        self.reload_rows()

    def export_conversation(self, cid: str | None = None, fmt: str | None = None, path: str | None = None
                            ) -> str | None:
        """Write conversation `cid` (default: the open one) as Markdown or JSON to `path` (default: asked, the
        format told by the file's extension). Returns the path written, None when nothing was."""
        from app.core.chat import export

        cid = cid or self.conv_id
        if cid is None:
            self.ctx.show_message("There is no conversation to export yet: send a message first.", "info")
            return None
        if path is None:
            title = self.store.get(cid).title
            name = "".join(c if c.isalnum() or c in " -_" else "_" for c in title).strip() or "conversation"
            filters = ["Markdown (*.md)", "JSON, to import again (*.json)"]
            if fmt == "json":
                filters.reverse()
            path, chosen = QFileDialog.getSaveFileName(self, "Export conversation",
                                                       str(Path.home() / f"{name}.{fmt or 'md'}"), ";;".join(filters))
            if not path:
                return None
            suffix = Path(path).suffix.lower()
            fmt = "json" if suffix == ".json" else "md" if suffix == ".md" else \
                "json" if chosen.startswith("JSON") else "md"
        try:
            export.export(self.store, cid, fmt or "md", path)
        except UserError as exc:
            self.ctx.show_message(str(exc), "error")
            return None
        self.ctx.show_message(f"Exported to {path}.", "info")
        return path

    def import_conversation(self, path: str | None = None) -> str | None:
        """Import a conversation exported as JSON (asked for when `path` is None) and open it. Returns its id."""
        from app.core.chat import export

        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Import conversation", str(Path.home()),
                                                  "Hearth conversations (*.json);;All files (*)")
            if not path:
                return None
        try:
            cid = export.import_file(self.store, path)
        except UserError as exc:
            self.ctx.show_message(str(exc), "error")
            return None
        self.sidebar.refresh()
        self.open_conversation(cid)
        return cid

    def _on_deleted(self, cid: str) -> None:
        if cid == self.conv_id:
            self.new_conversation()

    def reload_rows(self) -> None:
        if self.conv_id is None:
            self.model.set_rows([])
            return
        rows = [Row(m.id, m.role, m.content, m.info, m.sibling_index, m.sibling_count, images=m.images)
                for m in self.conversation.messages()]
        self.delegate.last_regenerable = len(rows) - 1 if rows and rows[-1].role == "assistant" else -1
        self.model.set_rows(rows)
        self.view.scrollToBottom()

    def conversation_settings(self) -> dict:
        return {**self.panel.conversation_settings(), "collections": self.collections_picker.attached()}

    def _save_conversation_settings(self) -> None:
        if self.conv_id is not None:
            self.conversation.save(system_prompt=self.panel.system_prompt(), settings=self.conversation_settings())

    def turn_options(self) -> TurnOptions:
        """What the next reply is made with: the panel's sampling and policy, the attached collections."""
        chat = self.ctx.settings.chat
        return TurnOptions(self.panel.sampling(), self.panel.policy_key(), self.collections_picker.attached(),
                           self.ctx.settings.documents, rewrite=chat.rewrite_followups, hyde=chat.hyde)

    # ---- documents ---------------------------------------------------------------------------------------------
    def _collection_names(self) -> list[str]:
        from app.core.documents.store import Store

        if self._doc_store is None:
            self._doc_store = Store()
        return [info.name for info in self._doc_store.collections()]

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
        """Send the message box's text (or `text`) with the attached images. False when nothing was sent; then
        the text and images stay where they are."""
        text = self.composer.toPlainText() if text is None else text
        images = self.attachments.items()
        if (not text.strip() and not images) or self.replying:
            return False
        if not self.engine.loaded:
            self.ctx.show_message("Choose a chat model first (the model picker above the messages)."
                                  if self.load_handle is None else "The model is still loading.", "info")
            return False
        if images:
            images = self._keep_images(images)
            if images is None:
                return False
        if self.conv_id is None:
            self.conversation.start(model=self.cs.last_model, system_prompt=self.panel.system_prompt(),
                                    settings=self.conversation_settings())
            self.cs.last_conversation = self.conv_id
        else:
            self._save_conversation_settings()
        sent = self._start_reply(lambda options, model: self.conversation.send(text, options, model, images=images))
        self.sidebar.set_current(self.conv_id)
        self.sidebar.refresh()
        if sent:
            self.composer.clear()
            self.attachments.clear()
        return sent

    def _keep_images(self, images: list) -> list[str] | None:
        """The attached images checked and copied into the data folder (their stored paths), or None after saying
        why they cannot be sent: the model reads text only, or an image cannot be read."""
        from app.core.chat.store import images_folder, keep_image

        try:
            self.engine.check_images([{"images": images}])
            return [str(images_folder() / keep_image(image)) for image in images]
        except UserError as exc:
            self.ctx.show_message(str(exc), "warning")
            return None

    def _start_reply(self, make_turn) -> bool:
        """Make the turn (`make_turn(options, model name)` stores what it needs), show it, and submit its job."""
        try:
            turn = make_turn(self.turn_options(), self.load_info.name if self.load_info else "")
        except UserError as exc:
            self.ctx.show_message(str(exc), "warning")
            return False
        self.reload_rows()
        self.turn = turn
        self._pending = []
        self._row = self.model.append(Row(None, "assistant", "", streaming=True))
        self.delegate.last_regenerable = -1
        self.view.scrollToBottom()
        handle = self.ctx.jobs.submit(turn.job(self.engine))
        self.reply_handle = handle
        handle.sig_partial.connect(self._on_partial)
        handle.on_partial(DocumentsFound, self._on_sources)
        handle.sig_done.connect(lambda result: self._on_reply_done(handle, result))
        handle.sig_cancelled.connect(lambda: self._on_reply_stopped(handle, "cancelled"))
        handle.sig_error.connect(lambda msg: self._on_reply_stopped(handle, "error", msg))
        self.send_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self._flush_timer.start()
        return True

    def _on_partial(self, value) -> None:
        if isinstance(value, ReplyRestarted) and 0 <= self._row < len(self.model.rows):
            self._pending = []  # the reply is made again: what streamed so far goes
            self.model.update_row(self._row, content="")
        text = self.turn.feed(value) if self.turn is not None else ""
        if text:
            self._pending.append(text)

    def _on_sources(self, found: DocumentsFound) -> None:
        """The passages the reply is about to draw on (before it streams): show them, say what went wrong."""
        use = found.use
        if use.problems:
            self.ctx.show_message(" ".join(use.problems), "warning")
        if use.collections or use.problems:
            self.sources.show_use(use)

    def _flush(self) -> None:
        if self.turn is None:
            return
        if self._pending:
            text = "".join(self._pending)
            self._pending = []
            follow = self.view.at_bottom()
            if 0 <= self._row < len(self.model.rows):
                self.model.append_text(self._row, text)
            if follow:
                self.view.scrollToBottom()
        self.stats.setText(self._live_stats())

    def _live_stats(self) -> str:
        turn, now = self.turn, time.monotonic()
        parts = []
        if turn.ttft_s is not None:
            if turn.tokens > 1:
                parts.append(f"{turn.tokens_per_s(now):.1f} tok/s")
            parts.append(f"first token {turn.ttft_s:.2f} s")
        elif turn.searching:
            what = f" for “{turn.searched_for}”" if turn.searched_for else ""
            parts.append(f"searching documents{what}… {now - turn.started:.1f} s")
        else:
            parts.append(f"reading the prompt… {now - turn.started:.1f} s")
        if turn.prompt is not None:
            parts.append(f"context {turn.context_used}/{turn.prompt.n_ctx}")
        return " · ".join(parts)

    def _finish_reply(self) -> Turn:
        self._flush()
        self._flush_timer.stop()
        self.reply_handle = None
        self.send_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        turn, self.turn = self.turn, None
        return turn

    def _on_reply_done(self, handle, result) -> None:
        if handle is not self.reply_handle:
            return
        turn = self._finish_reply()
        message = self.conversation.finish(turn, result)
        shown = turn.conversation_id == self.conv_id
        if shown and not self._closing:
            self.reload_rows()
        use = result.documents
        if use is not None and (use.collections or use.problems) and shown:
            self.sources.show_use(use, message.id if message else None)
        self.stats.setText(f"{result.tokens_per_s:.1f} tok/s · first token {result.ttft_s:.2f} s · "
                           f"context {result.context_used}/{result.n_ctx}"
                           + (f" · {result.note}" if result.note else ""))
        self.sig_reply_finished.emit("done")

    def _on_reply_stopped(self, handle, how: str, message: str = "") -> None:
        if handle is not self.reply_handle:
            return
        turn = self._finish_reply()
        if how == "cancelled":
            self.conversation.keep_stopped(turn)
        if turn.conversation_id == self.conv_id:
            self.reload_rows()
        if how == "error":
            self.stats.setText(f"The reply failed: {message}")
        self.sig_reply_finished.emit(how)

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
        return self._start_reply(self.conversation.regenerate)

    def edit_and_resend(self, message_id: int, text: str) -> bool:
        if self.replying:
            return False
        if not self.engine.loaded:
            self.ctx.show_message("Load a chat model to resend the message.", "info")
            return False
        return self._start_reply(lambda options, model: self.conversation.edit(message_id, text, options, model))

    def switch_version(self, message_id: int, step: int) -> None:
        if not self.replying and self.conversation.switch_version(message_id, step):
            self.reload_rows()

    # ---- quitting ----------------------------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Stop the reply (keeping what came), stop a load, free the model once its job has let go of it."""
        self._closing = True
        self.engine.remove_listener(self._engine_listener)
        if self.reply_handle is not None:
            handle = self.reply_handle
            turn = self._finish_reply()
            handle.cancel()
            self.conversation.keep_stopped(turn)
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

