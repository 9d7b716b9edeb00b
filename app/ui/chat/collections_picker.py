"""Which document collections the conversation answers from: a button by the composer with a checkable menu of
the collections that exist (and any attached one that was removed meanwhile, so it can be detached)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QMenu, QToolButton


class _StayOpenMenu(QMenu):
    """A menu that stays open while its checkable items are toggled (several collections in a row)."""

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        action = self.activeAction()
        if action is not None and action.isCheckable() and action.isEnabled():
            action.trigger()
            return
        super().mouseReleaseEvent(event)


class CollectionsPicker(QToolButton):
    sig_changed = Signal(list)  # the attached collection names
    sig_manage = Signal()  # "Manage collections…": show the Documents tab

    def __init__(self, list_names, parent=None) -> None:
        """`list_names()` returns the names of the collections that exist now."""
        super().__init__(parent)
        self._list_names = list_names
        self._attached: list[str] = []
        self._existing: list[str] = []
        self.menu = _StayOpenMenu(self)
        self.menu.aboutToShow.connect(self.refresh)
        self.setMenu(self.menu)
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.setAutoRaise(True)
        self.refresh()

    # ---- values ------------------------------------------------------------------------------------------------
    def attached(self) -> list[str]:
        return list(self._attached)

    def missing(self) -> list[str]:
        return [n for n in self._attached if n not in self._existing]

    def set_attached(self, names: list[str]) -> None:
        self._attached = list(dict.fromkeys(n for n in names if n))
        self._update_label()

    def set_checked(self, name: str, checked: bool) -> None:
        """Attach or detach one collection (what its menu item does)."""
        names = [n for n in self._attached if n != name]
        if checked:
            names.append(name)
        if names != self._attached:
            self._attached = names
            self._update_label()
            self.sig_changed.emit(self.attached())

    # ---- menu --------------------------------------------------------------------------------------------------
    def refresh(self) -> None:
        try:
            self._existing = list(self._list_names())
        except Exception:  # noqa: BLE001 - an unreadable store: show none rather than fail the tab
            self._existing = []
        self.menu.clear()
        head = self.menu.addAction("Answer from these collections:")
        head.setEnabled(False)
        for name in self._existing:
            action = self.menu.addAction(name)
            action.setCheckable(True)
            action.setChecked(name in self._attached)
            action.toggled.connect(lambda on, n=name: self.set_checked(n, on))
        for name in self.missing():
            action = self.menu.addAction(f"{name} (removed)")
            action.setCheckable(True)
            action.setChecked(True)
            action.setToolTip("This collection no longer exists; uncheck it to detach it")
            action.toggled.connect(lambda on, n=name: self.set_checked(n, on))
        if not self._existing and not self._attached:
            none = self.menu.addAction("No collections yet")
            none.setEnabled(False)
        self.menu.addSeparator()
        self.menu.addAction("Manage collections…", self.sig_manage.emit)
        self._update_label()

    def actions_by_name(self) -> dict[str, object]:
        return {a.text(): a for a in self.menu.actions() if a.isCheckable()}

    def _update_label(self) -> None:
        if not self._attached:
            self.setText("Documents: off")
            self.setToolTip("Answer from your document collections, citing file and page")
            return
        missing = set(self.missing())
        shown = [f"{n} (removed)" if n in missing else n for n in self._attached]
        self.setText("Documents: " + ", ".join(shown))
        self.setToolTip("Replies draw on these collections and cite their passages as [1], [2]…")
