"""Images tab."""

from app.ui.images.tab import ImagesTab

__all__ = ["ImagesTab"]
