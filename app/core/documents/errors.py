"""Why a file could not be indexed: the reasons shown next to it in the Documents tab and `hearth docs list`."""

from __future__ import annotations


class ParseFailure(Exception):
    """The file cannot be indexed; str(exc) is the reason shown next to it."""


class EmptyDocument(ParseFailure):
    """The file holds no text at all (0 bytes, or a document with nothing in it): listed as *empty*, not failed."""
