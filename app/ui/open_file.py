"""Open a document in the system's viewer, at a page where the viewer allows it (shared by Documents and Chat)."""

from __future__ import annotations

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices


def file_url(path: str, page: int | None = None) -> QUrl:
    """file:// URL of `path`; with a page, `#page=N` (the PDF open parameter most viewers and browsers read)."""
    url = QUrl.fromLocalFile(path)
    if page is not None:
        url.setFragment(f"page={int(page)}")
    return url


def open_url(url: QUrl) -> bool:
    """Open a local file URL. Viewers that understand `#page=N` open at that page, the others at the start; when
    the system refuses the URL with its fragment, the plain file is opened instead."""
    if QDesktopServices.openUrl(url):
        return True
    if url.hasFragment():
        plain = QUrl(url)
        plain.setFragment(None)
        return QDesktopServices.openUrl(plain)
    return False


def open_file(path: str, page: int | None = None) -> bool:
    return open_url(file_url(path, page))
