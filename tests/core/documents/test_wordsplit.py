"""Words OCR ran together are split again; real words, names and code identifiers are left alone."""

import pytest

from app.core.documents.wordsplit import split_merged_words


@pytest.mark.parametrize("merged, split", [
    ("the technicianwas late", "the technician was late"),
    ("Thetechnician came", "The technician came"),
    ("check the refrigerantpressure", "check the refrigerant pressure"),
    ("switchto emergencyheat", "switch to emergency heat"),
    ("mildsoap,\nfromthe wall.", "mild soap,\nfrom the wall."),  # punctuation and line breaks kept
    ("Theoutdoorunitoftheheatpumpstandsona pad", "The outdoor unit of the heat pump stands on a pad"),
    ("the evaporator.Cleanthe coil", "the evaporator.Clean the coil"),  # a sentence end without its space
])
def test_merged_words_are_split(merged, split):
    assert split_merged_words(merged) == split


@pytest.mark.parametrize("text", [
    "centimetres unplugging evaporator",  # real words, also rare or British ones
    "Rasmussen Kowalczyk Ihaka Gentleman Quillfeather Bluewater",  # names, made-up ones of two words too
    "parse_document getElementById HTTPSERVER",  # identifiers and acronyms
    "realloc subsetting gnuplot rownames",  # would split into pieces of three letters ("real loc")
    "see www.example.com, foo.bar/bazqux, user@hostname.org and apt-getinstall",  # URLs, paths, mail, hyphens
    "data.frame isn't x2bigvalue café naïvetébla System.ConsoleWriter",
    "",
])
def test_words_names_and_code_are_left_alone(text):
    assert split_merged_words(text) == text
