"""Documents tab."""

from app.ui.documents.tab import DocumentsTab

__all__ = ["DocumentsTab"]
