"""Small widgets shared by the tabs."""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)


class EmptyState(QWidget):
    """A centred title, an explanation, and the buttons that get the user started."""

    def __init__(
        self,
        title: str,
        text: str,
        actions: list[tuple[str, Callable[[], None]]] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("emptyState")
        outer = QVBoxLayout(self)
        outer.addStretch(2)
        self.title = QLabel(title)
        self.title.setObjectName("emptyTitle")
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        self.title.setFont(font)
        self.text = QLabel(text)
        self.text.setWordWrap(True)
        self.text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.text.setMinimumWidth(420)
        self.text.setMaximumWidth(620)
        self.text.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        outer.addWidget(self.title)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.text)
        row.addStretch(1)
        outer.addLayout(row)
        self.buttons: list[QPushButton] = []
        if actions:
            buttons = QHBoxLayout()
            buttons.addStretch(1)
            for label, callback in actions:
                button = QPushButton(label)
                button.clicked.connect(callback)
                buttons.addWidget(button)
                self.buttons.append(button)
            buttons.addStretch(1)
            outer.addSpacing(12)
            outer.addLayout(buttons)
        outer.addStretch(3)


class MessageBar(QFrame):
    """A dismissable banner for errors and notices; never blocks the window like a modal dialog would."""

    sig_closed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("messageBar")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton()
        close.setText("✕")
        close.setToolTip("Dismiss")
        close.clicked.connect(self.dismiss)
        layout.addWidget(self.label, 1)
        layout.addWidget(close)
        self.hide()

    def show_message(self, text: str, kind: str = "error") -> None:
        colors = {"error": ("#f8d7da", "#58151c"), "info": ("#cfe2ff", "#052c65"), "warning": ("#fff3cd", "#664d03")}
        bg, fg = colors.get(kind, colors["info"])
        self.setStyleSheet(f"#messageBar {{ background: {bg}; border-radius: 4px; }} #messageBar QLabel {{ color: {fg}; }}")
        self.label.setText(text)
        self.show()

    def dismiss(self) -> None:
        self.hide()
        self.sig_closed.emit()
