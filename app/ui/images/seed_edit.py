"""The seed field: any seed torch takes (0 to 2^64 - 1), which a QSpinBox (32-bit signed) cannot hold."""

from __future__ import annotations

from PySide6.QtCore import QRegularExpression
from PySide6.QtGui import QRegularExpressionValidator
from PySide6.QtWidgets import QLineEdit

from app.core.images.params import MAX_SEED, RANDOM_SEED


class SeedEdit(QLineEdit):
    """Digits only; empty (shown as "random") or -1 means a random seed. Same value()/setValue() as a spin box.

    Seeds above 2^64 - 1 can be typed (up to 20 digits) and are refused with a sentence when generating."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setPlaceholderText("random")
        self.setValidator(QRegularExpressionValidator(QRegularExpression(r"-1|\d{0,20}"), self))
        self.setToolTip(f"0 to {MAX_SEED}; empty: a random seed (the one used is recorded in the PNG)")

    def value(self) -> int:
        text = self.text().strip()
        return RANDOM_SEED if text in ("", "-1") else int(text)

    def setValue(self, seed: int) -> None:  # noqa: N802 - the spin box API the panel used before
        self.setText("" if seed is None or int(seed) < 0 else str(int(seed)))
