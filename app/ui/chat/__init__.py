"""Chat tab."""

from app.ui.chat.tab import ChatTab

__all__ = ["ChatTab"]
