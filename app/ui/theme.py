"""Light / dark / system theme. "system" follows QStyleHints.colorScheme and its changes.

Light keeps the platform's own style; dark switches to Fusion with a dark palette (native styles ignore custom
palettes). Qt classes are imported inside the functions: importing them creates their Python enums, which is a
measurable part of startup.
"""

from __future__ import annotations


def _dark_palette():
    from PySide6.QtGui import QColor, QPalette

    p = QPalette()
    base, window, text = QColor(30, 30, 33), QColor(43, 43, 47), QColor(230, 230, 230)
    disabled = QColor(127, 127, 127)
    role = QPalette.ColorRole
    for r, color in (
        (role.Window, window), (role.WindowText, text), (role.Base, base), (role.AlternateBase, window),
        (role.ToolTipBase, base), (role.ToolTipText, text), (role.PlaceholderText, disabled), (role.Text, text),
        (role.Button, window), (role.ButtonText, text), (role.BrightText, QColor(255, 80, 80)),
        (role.Link, QColor(110, 170, 255)), (role.Highlight, QColor(60, 120, 216)),
        (role.HighlightedText, QColor(255, 255, 255)),
    ):
        p.setColor(r, color)
    for r in (role.Text, role.ButtonText, role.WindowText):
        p.setColor(QPalette.ColorGroup.Disabled, r, disabled)
    return p


def system_is_dark() -> bool:
    from PySide6.QtWidgets import QApplication

    return QApplication.styleHints().colorScheme().name == "Dark"


def effective(theme: str) -> str:
    """'light' or 'dark' for a setting of 'system' / 'light' / 'dark'."""
    if theme in ("light", "dark"):
        return theme
    return "dark" if system_is_dark() else "light"


def apply_theme(app, theme: str) -> str:
    mode = effective(theme)
    if mode == "dark":
        app.setStyle("Fusion")
        app.setPalette(_dark_palette())
    elif app.property("hearth_theme") == "dark":  # back from dark: the platform's style and palette again
        from PySide6.QtWidgets import QStyleFactory

        app.setStyle(QStyleFactory.create(app.property("hearth_native_style") or "Fusion"))
        app.setPalette(app.style().standardPalette())
    if app.property("hearth_native_style") is None:
        app.setProperty("hearth_native_style", app.style().name())
    app.setProperty("hearth_theme", mode)
    return mode
