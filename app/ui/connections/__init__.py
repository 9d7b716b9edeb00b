"""Connections in the app: the models other servers offer (remote_models.py, for the model pickers) and the
Settings page that adds and removes connections (page.py)."""

from app.ui.connections.remote_models import RemoteModels

__all__ = ["RemoteModels"]
