"""The engines the app holds, one per feature, shared by whoever drives them: the tabs and the server inside the
app use the same ChatEngine (one loaded model, never a second copy) and the same ImageEngine (one set of loaded
pipelines). Each is made when first asked for, so start-up imports none of them. No Qt."""

from __future__ import annotations

import threading


class Engines:
    """Lazily made, shared engines. `settings` is the app's Settings (the images section configures ImageEngine)."""

    def __init__(self, settings=None) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._chat = None
        self._images = None

    @property
    def chat(self):
        """The ChatEngine (app/core/chat/jobs.py)."""
        with self._lock:
            if self._chat is None:
                from app.core.chat.jobs import ChatEngine

                self._chat = ChatEngine()
            return self._chat

    @property
    def images(self):
        """The ImageEngine (app/core/images/jobs.py)."""
        with self._lock:
            if self._images is None:
                from app.core.images.jobs import ImageEngine

                self._images = ImageEngine(getattr(self.settings, "images", None))
            return self._images

    def close(self, timeout: float = 3.0) -> None:
        """Free what was loaded: the chat model once its job lets go of it (close_when_idle), the pipelines."""
        with self._lock:
            chat, images = self._chat, self._images
        if chat is not None:
            chat.close_when_idle(timeout)
        if images is not None:
            images.free()
