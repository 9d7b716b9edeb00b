"""Text files in legacy code pages and with control characters: decoded right, found by keyword search."""

import codecs
import re

import pytest

from app.core.documents.indexer import IndexRequest, index_collection
from app.core.documents.parsers import ParseFailure, parse_file
from app.core.documents.retriever import Retriever, SearchOptions
from app.core.jobs import JobState

CAFE = ("Invoice notes for the Café Lumière © 2021\n\nThe espresso machine – model Vesuvio – must be descaled every "
        "fortnight. Staff should log the descaling in the green binder “Maintenance”.\n")
RUSSIAN = "Прощай, мир! Этот файл сохранён в кодировке Windows-1251, и поиск должен находить слово «самовар»."
JAPANESE = ("日本語のテキストです。このファイルはシフトJISで保存されています。検索では「抹茶」という言葉が見つかるはずです。"
            "古い業務システムの書き出したメモは今でもこの文字コードのことが多いです。")
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _text(path) -> str:
    return "\n".join(s.text for s in parse_file(path))


@pytest.mark.parametrize("name, data, expected", [
    ("cafe.txt", CAFE.encode("cp1252"), CAFE),
    ("cafe-utf8.txt", CAFE.encode("utf-8"), CAFE),
    ("cafe-bom.txt", codecs.BOM_UTF8 + CAFE.encode("utf-8"), CAFE),
    ("cafe-utf16.txt", CAFE.encode("utf-16"), CAFE),  # with its byte-order mark
    ("cafe-utf16le.txt", CAFE.encode("utf-16-le"), CAFE),  # without one
    ("russian.md", RUSSIAN.encode("cp1251"), RUSSIAN),
    ("japanese.txt", JAPANESE.encode("shift_jis"), JAPANESE),
])
def test_text_files_are_decoded_by_their_code_page(tmp_path, name, data, expected):
    path = tmp_path / name
    path.write_bytes(data)
    text = _text(path)
    assert text.strip() == expected.strip()
    assert not CONTROL.search(text)


def test_html_uses_its_declared_charset_and_falls_back_when_it_lies(tmp_path):
    declared = tmp_path / "declared.html"
    declared.write_bytes(b'<html><head><meta charset="windows-1251"><title>t</title></head><body><p>'
                         + RUSSIAN.encode("cp1251") + b"</p></body></html>")
    assert RUSSIAN in _text(declared)
    latin = tmp_path / "latin1.html"  # "iso-8859-1" means windows-1252 to every browser (WHATWG)
    latin.write_bytes(b'<html><head><meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1">'
                      b"</head><body><p>" + CAFE.encode("cp1252") + b"</p></body></html>")
    assert "– model Vesuvio –" in _text(latin) and "“Maintenance”" in _text(latin)
    lying = tmp_path / "lying.html"  # says UTF-8, is Windows-1252
    lying.write_bytes(b'<html><head><meta charset="utf-8"></head><body><p>' + CAFE.encode("cp1252")
                      + b"</p></body></html>")
    assert "Café Lumière ©" in _text(lying)


def test_control_characters_never_reach_the_index(tmp_path):
    path = tmp_path / "log.txt"
    path.write_bytes("Bell\x07 and escape\x1b[0m codes,\r\nform\x0cfeed, NEL\u0085 and C1 \u0093quotes\u0094.\tTab."
                     .encode("utf-8"))
    text = _text(path)
    assert not CONTROL.search(text)
    assert "Bell and escape[0m codes,\nform\n\nfeed, NEL\n and C1 quotes.\tTab." == text
    md = tmp_path / "notes.md"
    md.write_bytes(b"# Head\x01ing\n\nBody\x02 text\n")
    sections = parse_file(md)
    assert sections[0].heading == "Heading" and "Body text" in sections[0].text


def test_binary_content_is_still_refused(tmp_path):
    path = tmp_path / "blob.txt"
    path.write_bytes(bytes(range(0, 32)) * 50)
    with pytest.raises(ParseFailure, match="binary content"):
        parse_file(path)


@pytest.mark.slow
def test_cp1252_words_are_found_by_keyword_search(tmp_path, embedder):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "cafe.txt").write_bytes(CAFE.encode("cp1252"))
    (folder / "russian.txt").write_bytes(RUSSIAN.encode("cp1251"))
    index_collection(IndexRequest("enc", [str(folder)]), JobState())
    retriever = Retriever()
    info = retriever.store.get("enc")
    for query, name in [("Lumière", "cafe.txt"), ("“Maintenance”", "cafe.txt"), ("самовар", "russian.txt")]:
        hits = retriever.search(info, query, SearchOptions(k=3, mode="bm25"))
        assert hits and hits[0].file.endswith(name), query
    hit = retriever.search(info, "Vesuvio espresso machine", SearchOptions(k=1, mode="bm25"))[0]
    assert "machine – model Vesuvio –" in hit.text and not CONTROL.search(hit.text)
