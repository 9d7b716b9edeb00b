"""The Documents tab's search results say when the collection is still indexing."""

from app.core.documents.retriever import Hit
from app.ui.documents.search_view import SearchPanel


def test_a_search_during_indexing_shows_how_far_indexing_is(qtbot):
    panel = SearchPanel()
    qtbot.addWidget(panel)
    hit = Hit("id", "/docs/bees.pdf", 2, 2, "", "Take the frames out when most cells are capped.", 0.8)
    panel.set_note("Indexing 2 of 6 pages — answers use what is indexed so far.")
    panel.show_hits([hit])
    text = panel.results.toPlainText()
    assert text.startswith("Indexing 2 of 6 pages — answers use what is indexed so far.")
    assert "bees.pdf" in text and "page 2" in text
    panel.set_note("")  # the next search, after indexing: no note
    panel.show_hits([])
    assert panel.results.toPlainText() == "No passages found."
