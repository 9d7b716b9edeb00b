"""The message list: a QAbstractListModel of rows and a delegate that paints each as Markdown.

Rows are laid out once (QTextDocument cached per row and width); while a reply streams only its row changes,
and the tab feeds it at most every ~30 ms. Each message header carries small actions (copy, edit, regenerate,
‹ n/m › to switch between branches, Sources) hit-tested by the delegate, so there is no widget per message.
A reply that drew on documents shows its citations [n] as links to the file and page (sig_link on click).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import (QAbstractListModel, QEvent, QModelIndex, QPoint, QPointF, QRect, QRectF, QSize, Qt,
                            Signal)
from PySide6.QtCore import QUrl
from PySide6.QtGui import (QAbstractTextDocumentLayout, QColor, QFont, QPalette, QTextCursor, QTextDocument,
                           QTextImageFormat)
from PySide6.QtWidgets import QApplication, QListView, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from app.core.chat.documents import DocumentsUse
from app.ui.open_file import file_url

PAD = 10
HEADER_H = 22
ROLE_NAMES = {"user": "You", "assistant": "Assistant", "system": "System"}


@dataclass
class Row:
    id: int | None  # message id in the store (None while streaming)
    role: str
    content: str
    info: dict = field(default_factory=dict)
    sibling_index: int = 0
    sibling_count: int = 1
    streaming: bool = False
    revision: int = 0  # bumped on every content change; part of the layout cache key
    images: list[str] = field(default_factory=list)  # the message's stored images (paths), shown as thumbnails

    @property
    def documents(self) -> DocumentsUse | None:
        """What this reply drew on from document collections (None: it did not use any)."""
        return DocumentsUse.from_json((self.info or {}).get("documents")) if self.role == "assistant" else None


class MessageModel(QAbstractListModel):
    RowRole = Qt.ItemDataRole.UserRole + 1

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.rows: list[Row] = []

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802 - Qt naming
        return 0 if parent.isValid() else len(self.rows)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self.rows):
            return None
        row = self.rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return row.content
        if role == self.RowRole:
            return row
        return None

    def set_rows(self, rows: list[Row]) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.endResetModel()

    def append(self, row: Row) -> int:
        n = len(self.rows)
        self.beginInsertRows(QModelIndex(), n, n)
        self.rows.append(row)
        self.endInsertRows()
        return n

    def remove_last(self) -> None:
        if self.rows:
            n = len(self.rows) - 1
            self.beginRemoveRows(QModelIndex(), n, n)
            self.rows.pop()
            self.endRemoveRows()

    def append_text(self, i: int, text: str) -> None:
        row = self.rows[i]
        row.content += text
        row.revision += 1
        idx = self.index(i)
        self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DisplayRole])

    def update_row(self, i: int, **changes) -> None:
        row = self.rows[i]
        for key, value in changes.items():
            setattr(row, key, value)
        row.revision += 1
        idx = self.index(i)
        self.dataChanged.emit(idx, idx)


class MessageDelegate(QStyledItemDelegate):
    """Paints a message (header + Markdown body) and handles clicks on its header actions."""

    sig_action = Signal(str, int)  # action ("copy", "edit", "regenerate", "prev", "next", "copy_code", "sources"), row
    sig_link = Signal(str, int, int)  # href of a link clicked in a message, its citation number (or -1), row

    def __init__(self, view: QListView) -> None:
        super().__init__(view)
        self.view = view
        self._docs: dict[int, tuple[tuple, QTextDocument]] = {}  # id(row) -> (key, document)
        self.builds = 0  # documents laid out (tests check that streaming re-renders only one row)
        self._hover: tuple[int, str] | None = None
        self.last_regenerable = -1

    # ---- layout ------------------------------------------------------------------------------------------------
    def _width(self, _option_width: int = 0) -> int:
        # One width for measuring and painting (the viewport's), so each row is laid out once per resize.
        return max(120, self.view.viewport().width() - 2 * PAD - 12)

    def document(self, row: Row, width: int) -> QTextDocument:
        key = (row.revision, width, len(row.content), QApplication.instance().property("hearth_theme"))
        cached = self._docs.get(id(row))
        if cached is not None and cached[0] == key:
            return cached[1]
        doc = QTextDocument()
        doc.setDocumentMargin(2)
        font = QFont(self.view.font())
        doc.setDefaultFont(font)
        dark = QApplication.instance().property("hearth_theme") == "dark"
        code_bg = "#2b2d31" if dark else "#f0f0f3"
        doc.setDefaultStyleSheet(f"pre, code {{ background-color: {code_bg}; }} table {{ border-collapse: collapse; }}"
                                 " td, th { padding: 2px 6px; }")
        if row.role == "assistant":
            doc.setMarkdown(markdown(row) or ("…" if row.streaming else ""))
        else:
            doc.setPlainText(row.content)
        if row.images:
            _insert_thumbnails(doc, row.images)
        doc.setTextWidth(width)
        self.builds += 1
        self._docs[id(row)] = (key, doc)
        return doc

    def forget(self) -> None:
        self._docs.clear()

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:  # noqa: N802
        row: Row = index.data(MessageModel.RowRole)
        width = self.view.viewport().width() or option.rect.width()
        doc = self.document(row, self._width(width))
        return QSize(width, int(doc.size().height()) + HEADER_H + 2 * PAD)

    # ---- header actions ----------------------------------------------------------------------------------------
    def actions(self, row: Row, index_row: int) -> list[tuple[str, str]]:
        acts = [("copy", "Copy")]
        if row.streaming:
            return []
        if "```" in row.content:
            acts.append(("copy_code", "Copy code"))
        if row.role == "user":
            acts.append(("edit", "Edit"))
        if row.role == "assistant" and index_row == self.last_regenerable:
            acts.append(("regenerate", "Regenerate"))
        use = row.documents
        if use is not None:
            acts.append(("sources", f"Sources ({len(use.sources)})" if use.sources else "Sources"))
        if row.sibling_count > 1:
            acts += [("prev", "‹"), ("count", f"{row.sibling_index + 1}/{row.sibling_count}"), ("next", "›")]
        return acts

    def _action_rects(self, rect: QRect, row: Row, index_row: int) -> list[tuple[str, str, QRect]]:
        fm = self.view.fontMetrics()
        x = rect.right() - PAD
        out = []
        for key, label in reversed(self.actions(row, index_row)):
            w = fm.horizontalAdvance(label) + 10
            x -= w
            out.append((key, label, QRect(x, rect.top() + PAD - 2, w, HEADER_H - 2)))
            x -= 4
        return list(reversed(out))

    # ---- painting ----------------------------------------------------------------------------------------------
    def paint(self, painter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        row: Row = index.data(MessageModel.RowRole)
        rect = option.rect
        pal = option.palette
        dark = QApplication.instance().property("hearth_theme") == "dark"
        painter.save()
        if row.role == "user":
            bg = QColor(52, 58, 72) if dark else QColor(232, 240, 254)
        else:
            bg = pal.color(QPalette.ColorRole.Base)
        painter.fillRect(rect.adjusted(4, 2, -4, -2), bg)
        if option.state & QStyle.StateFlag.State_Selected:
            painter.setPen(pal.color(QPalette.ColorRole.Highlight))
            painter.drawRect(rect.adjusted(4, 2, -5, -3))
        # header: who, figures, actions
        header_font = QFont(option.font)
        header_font.setBold(True)
        painter.setFont(header_font)
        painter.setPen(pal.color(QPalette.ColorRole.Text))
        name = ROLE_NAMES.get(row.role, row.role)
        painter.drawText(QRect(rect.left() + PAD, rect.top() + PAD - 2, 200, HEADER_H), Qt.AlignmentFlag.AlignLeft,
                         name)
        painter.setFont(option.font)
        muted = pal.color(QPalette.ColorRole.PlaceholderText)
        figures = _figures(row)
        if figures:
            painter.setPen(muted)
            x = rect.left() + PAD + self.view.fontMetrics().horizontalAdvance(name) + 24
            painter.drawText(QRect(x, rect.top() + PAD - 2, rect.width() // 2, HEADER_H), Qt.AlignmentFlag.AlignLeft,
                             figures)
        link = pal.color(QPalette.ColorRole.Link)
        for key, label, r in self._action_rects(rect, row, index.row()):
            hovered = self._hover == (index.row(), key)
            painter.setPen(muted if key == "count" else link)
            if hovered and key != "count":
                f = QFont(option.font)
                f.setUnderline(True)
                painter.setFont(f)
            painter.drawText(r, Qt.AlignmentFlag.AlignCenter, label)
            painter.setFont(option.font)
        # body
        doc = self.document(row, self._width(rect.width()))
        painter.translate(rect.left() + PAD, rect.top() + PAD + HEADER_H)
        ctx = QAbstractTextDocumentLayout.PaintContext()
        ctx.palette.setColor(QPalette.ColorRole.Text, pal.color(QPalette.ColorRole.Text))
        ctx.clip = QRectF(0, 0, rect.width(), rect.height())
        doc.documentLayout().draw(painter, ctx)
        painter.restore()

    def anchor_at(self, row: Row, rect: QRect, pos: QPoint) -> tuple[str, str]:
        """(href, link text) of the link under `pos` (view coordinates) in the row painted at `rect`; ("", "")."""
        doc = self.document(row, self._width(rect.width()))
        point = QPointF(pos.x() - rect.left() - PAD, pos.y() - rect.top() - PAD - HEADER_H)
        href = doc.documentLayout().anchorAt(point)
        if not href:
            return "", ""
        position = doc.documentLayout().hitTest(point, Qt.HitTestAccuracy.FuzzyHit)
        block = doc.findBlock(position)
        it = block.begin()
        while not it.atEnd():
            frag = it.fragment()
            if frag.contains(position) and frag.charFormat().anchorHref() == href:
                return href, frag.text()
            it += 1
        return href, ""

    def editorEvent(self, event, model, option, index) -> bool:  # noqa: N802
        if event.type() in (QEvent.Type.MouseButtonRelease, QEvent.Type.MouseMove):
            row: Row = index.data(MessageModel.RowRole)
            pos: QPoint = event.position().toPoint()
            hit = None
            for key, _label, r in self._action_rects(option.rect, row, index.row()):
                if r.contains(pos) and key != "count":
                    hit = key
            href = "" if hit or row.role != "assistant" else self.anchor_at(row, option.rect, pos)[0]
            if event.type() == QEvent.Type.MouseMove:
                hover = (index.row(), hit) if hit else None
                if hover != self._hover:
                    self._hover = hover
                    self.view.viewport().update()
                self.view.viewport().setCursor(Qt.CursorShape.PointingHandCursor if hit or href
                                               else Qt.CursorShape.ArrowCursor)
                if href:
                    self.view.viewport().setToolTip(_link_tip(row, href))
                return False
            if hit and event.button() == Qt.MouseButton.LeftButton:
                self.sig_action.emit(hit, index.row())
                return True
            if href and event.button() == Qt.MouseButton.LeftButton:
                text = self.anchor_at(row, option.rect, pos)[1]
                number = re.fullmatch(r"\[(\d+)\]", text.strip())
                self.sig_link.emit(href, int(number.group(1)) if number else -1, index.row())
                return True
        return super().editorEvent(event, model, option, index)


_CITATION = re.compile(r"\[(\s*\d+(?:\s*[,;]\s*\d+)*\s*)\](?!\()")
_CODE = re.compile(r"(```.*?(?:```|\Z)|`[^`\n]*`)", re.S)
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~])")


MESSAGE_THUMB = 160  # thumbnails in sent messages, pixels per side at most


def _insert_thumbnails(doc: QTextDocument, images: list[str]) -> None:
    """Put the message's images, as thumbnails, in a paragraph before its text (resources named hearth-image:N)."""
    from app.ui.chat.attachments import thumbnail

    cursor = QTextCursor(doc)
    cursor.movePosition(QTextCursor.MoveOperation.Start)
    cursor.insertBlock()
    cursor.movePosition(QTextCursor.MoveOperation.Start)
    for i, path in enumerate(images):
        image = thumbnail(path, MESSAGE_THUMB)
        name = f"hearth-image:{i}"
        doc.addResource(QTextDocument.ResourceType.ImageResource, QUrl(name), image)
        fmt = QTextImageFormat()
        fmt.setName(name)
        fmt.setWidth(image.width())
        fmt.setHeight(image.height())
        fmt.setToolTip(Path(path).name)
        cursor.insertImage(fmt)
        cursor.insertText(" ")


def thumbnails_in(doc: QTextDocument) -> list[str]:
    """Names of the images a laid-out message shows (tests)."""
    names = []
    block = doc.begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            fmt = it.fragment().charFormat()
            if fmt.isImageFormat():
                names.append(fmt.toImageFormat().name())
            it += 1
        block = block.next()
    return names


def _md_escape(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", text)


def citation_url(source) -> str:
    return bytes(file_url(source.file, source.page).toEncoded()).decode("ascii")


def link_citations(text: str, sources) -> str:
    """Markdown in which each citation [n] of a given source is a link to its file (and page); code is left as
    it is, and numbers that name no source stay plain text."""
    by_n = {s.n: s for s in sources}

    def link(match: re.Match) -> str:
        numbers = [int(x) for x in re.split(r"[,;]", match.group(1)) if x.strip()]
        if not numbers or any(n not in by_n for n in numbers):
            return match.group(0)
        return ", ".join(f"[\\[{n}\\]](<{citation_url(by_n[n])}>)" for n in numbers)

    parts = _CODE.split(text)
    return "".join(part if i % 2 else _CITATION.sub(link, part) for i, part in enumerate(parts))


def markdown(row: Row) -> str:
    """What an assistant row shows: its Markdown, with citations as links and a note when the documents gave
    nothing (or a collection could not be used)."""
    use = row.documents
    if use is None:
        return row.content
    notes = [f"*{_md_escape(p)}*" for p in use.problems]
    if use.nothing_found:
        notes.append(f"*{_md_escape(use.note)}*")
    body = link_citations(row.content, use.sources) if use.sources else row.content
    return "\n\n".join([*notes, body]) if notes else body


def _link_tip(row: Row, href: str) -> str:
    use = row.documents
    for source in use.sources if use else []:
        if citation_url(source) == href:
            return f"[{source.n}] {source.label}"
    return href


def _figures(row: Row) -> str:
    info = row.info or {}
    if row.role != "assistant" or not info:
        return ""
    parts = []
    if info.get("tokens_per_s"):
        parts.append(f"{info['tokens_per_s']:.1f} tok/s")
    if info.get("ttft_s") is not None and info.get("ttft_s") != "":
        parts.append(f"first token {float(info['ttft_s']):.2f} s")
    if info.get("completion_tokens"):
        parts.append(f"{info['completion_tokens']} tokens")
    if info.get("stopped") == "cancelled":
        parts.append("stopped")
    elif info.get("stopped") == "length":
        parts.append("hit max tokens")
    if info.get("note"):
        parts.append(info["note"])
    return " · ".join(parts)


class MessageView(QListView):
    """A list of messages that keeps following the bottom while a reply streams (unless the user scrolled up)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setVerticalScrollMode(QListView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setWordWrap(True)
        self.setMouseTracking(True)
        self.setSelectionMode(QListView.SelectionMode.SingleSelection)
        self.setEditTriggers(QListView.EditTrigger.NoEditTriggers)
        self.setSpacing(2)
        self.setUniformItemSizes(False)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)

    def at_bottom(self) -> bool:
        bar = self.verticalScrollBar()
        return bar.value() >= bar.maximum() - 40

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self.scheduleDelayedItemsLayout()
