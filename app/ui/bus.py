"""Signals that cross tabs (for example a mask made in Segment, used for inpainting in Images)."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal


class AppBus(QObject):
    sig_mask_for_inpaint = Signal(str, str)  # mask PNG path, source image path
    sig_models_changed = Signal()  # the registry changed (download finished, import, delete)
    sig_collections_changed = Signal()  # a document collection was made or removed (Documents tab)
    sig_connections_changed = Signal()  # a connection was added or removed (Settings → Connections)
    sig_ask_about_image = Signal(str)  # an image file: open a new chat with it attached
