from __future__ import annotations

import pytest

from tests.core.documents.corpus import make_corpus


@pytest.fixture
def corpus(tmp_path):
    return make_corpus(tmp_path / "docs")


@pytest.fixture(scope="session")
def embedder():
    """The real built-in all-MiniLM-L6-v2 (cached for the whole session by the engine)."""
    from app.core.documents.embedder import get_embedder

    return get_embedder()
