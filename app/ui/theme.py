"""Light / dark / system theme. "system" follows QStyleHints.colorScheme and its changes."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication


def _dark_palette() -> QPalette:
    p = QPalette()
    base, window, text = QColor(30, 30, 33), QColor(43, 43, 47), QColor(230, 230, 230)
    disabled = QColor(127, 127, 127)
    p.setColor(QPalette.ColorRole.Window, window)
    p.setColor(QPalette.ColorRole.WindowText, text)
    p.setColor(QPalette.ColorRole.Base, base)
    p.setColor(QPalette.ColorRole.AlternateBase, window)
    p.setColor(QPalette.ColorRole.ToolTipBase, base)
    p.setColor(QPalette.ColorRole.ToolTipText, text)
    p.setColor(QPalette.ColorRole.PlaceholderText, disabled)
    p.setColor(QPalette.ColorRole.Text, text)
    p.setColor(QPalette.ColorRole.Button, window)
    p.setColor(QPalette.ColorRole.ButtonText, text)
    p.setColor(QPalette.ColorRole.BrightText, QColor(255, 80, 80))
    p.setColor(QPalette.ColorRole.Link, QColor(110, 170, 255))
    p.setColor(QPalette.ColorRole.Highlight, QColor(60, 120, 216))
    p.setColor(QPalette.ColorRole.HighlightedText, QColor(255, 255, 255))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        p.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    return p


def system_is_dark() -> bool:
    hints = QGuiApplication.styleHints()
    return hints.colorScheme() == Qt.ColorScheme.Dark


def effective(theme: str) -> str:
    """'light' or 'dark' for a setting of 'system' / 'light' / 'dark'."""
    if theme in ("light", "dark"):
        return theme
    return "dark" if system_is_dark() else "light"


def apply_theme(app: QApplication, theme: str) -> str:
    app.setStyle("Fusion")
    mode = effective(theme)
    app.setPalette(_dark_palette() if mode == "dark" else app.style().standardPalette())
    app.setProperty("hearth_theme", mode)
    return mode
