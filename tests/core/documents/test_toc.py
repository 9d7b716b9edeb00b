"""Tables of contents and indexes: detected from the passage text, ranked below the page that answers."""

from app.core.documents import retriever as retrieval
from app.core.documents.indexer import IndexRequest, index_collection
from app.core.documents.retriever import Retriever, SearchOptions
from app.core.documents.toc import is_listing
from app.core.jobs import JobState
from tests.core.documents.corpus import make_pdf

# As R-intro.pdf's contents page reads once a passage's lines are joined (chunker.clean).
R_CONTENTS = ("i Table of Contents Preface ............................................... 1 1 Introduction and "
              "preliminaries ................. 2 1.1 The R environment............................................. 2 "
              "1.2 Related software and documentation ............................ 2 1.3 R and statistics"
              "................................................. 2 2 Simple manipulations; numbers and vectors . . 8 "
              "2.1 Vectors and assignment......................................... 8")
R_INDEX = ("Appendix E Concept index A Accessing builtin datasets ...................... 34 Additive models "
           "............................... 67 Arrays ......................................... 20 B Binary "
           "operators ............................... 46 C Classes ..................................... 16, 52")
PLAIN_CONTENTS = "Contents\nIntroduction 1\nGetting started 3\nInstalling the heater 5\nCleaning 9\nWarranty 12\n"
BODY = ("R is an integrated suite of software facilities for data manipulation, calculation and graphical display "
        "(see Section 1.2, page 2). Among other things it has an effective data handling and storage facility.")
CODE = "f <- function(x, ...) { g(...) }\nfor (i in 1:10) print(i)\nx <- c(1, 2, 3) .... # more to come\n"
MEASUREMENTS = "Height 170\nWeight 65\nAge 41\nPulse 72\nGlucose 5\nSystolic 120\n"


def test_contents_and_index_pages_are_listings():
    assert is_listing(R_CONTENTS)
    assert is_listing(R_INDEX)
    assert is_listing(PLAIN_CONTENTS)  # no leaders, lines ending in ascending page numbers


def test_body_text_code_and_tables_are_not_listings():
    assert not is_listing(BODY)
    assert not is_listing(CODE)
    assert not is_listing(MEASUREMENTS)  # numbers at line ends, but not running forward like pages
    assert not is_listing(BODY + " " + R_CONTENTS[:120])  # a page with a couple of leaders in its body text
    assert not is_listing("")


CONTENTS_PAGE = "\n".join([
    "Heater manual",
    "Table of Contents",
    "1 What is Lumen? .......................................... 2",
    "1.1 What is Lumen made of? ................................. 2",
    "2 Installing Lumen ......................................... 3",
    "3 Cleaning Lumen ........................................... 3",
    "4 Lumen error codes ........................................ 3",
    "5 Lumen warranty ........................................... 3",
])
ANSWER_PAGE = ("Lumen is an electric panel heater for rooms of up to twenty square metres. It warms the air by "
               "convection and keeps the temperature set on its thermostat.")
OTHER_PAGE = ("Mount the heater on a solid wall thirty centimetres above the floor. Clean the dust filter every month "
              "and call service when an error code blinks. The warranty lasts five years.")


def _manual(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    make_pdf(folder / "lumen.pdf", [CONTENTS_PAGE, ANSWER_PAGE, OTHER_PAGE])
    index_collection(IndexRequest("lumen", [str(folder)]), JobState())
    retriever = Retriever()
    return retriever, retriever.store.get("lumen")


def test_answer_page_outranks_the_contents_page_and_contents_stay_findable(tmp_path, monkeypatch):
    retriever, info = _manual(tmp_path)
    query = "What is Lumen?"
    for mode in ("hybrid", "dense"):
        pages = [h.page for h in retriever.search(info, query, SearchOptions(k=3, mode=mode))]
        assert pages[0] == 2, (mode, pages)
        assert 1 in pages, (mode, pages)  # demoted, not dropped
    # What only the contents page holds is still found first.
    assert retriever.search(info, "table of contents", SearchOptions(k=3))[0].page == 1
    # Without the demotion the contents page (it repeats the question's words) came first.
    monkeypatch.setattr(retrieval, "TOC_FACTOR", 1.0)
    firsts = {mode: retriever.search(info, query, SearchOptions(k=3, mode=mode))[0].page
              for mode in ("hybrid", "dense")}
    assert 1 in firsts.values(), firsts
