"""`hearth clip search` and `hearth clip label`, in process, with a CLIP whose embeddings are known."""

import json

import pytest

from app.cli import main

pytestmark = pytest.mark.slow


def test_search_json_lines_best_first(colour_clip_path, photos, capsys):
    assert main(["clip", "search", str(photos), "green", "--model", str(colour_clip_path), "--k", "2", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["file"].rsplit("/", 1)[-1] for r in rows][0] == "green.png" and len(rows) == 2
    assert set(rows[0]) == {"file", "score"} and rows[0]["score"] > rows[1]["score"]


def test_label_and_plain_output(colour_clip_path, photos, capsys):
    assert main(["clip", "label", str(photos / "blue.jpg"), "--labels", "red, green,blue",
                 "--model", str(colour_clip_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("  blue") and len(lines) == 3


@pytest.mark.parametrize("args,message", [
    (["search", "{photos}", "red", "--like", "{photos}/red.jpg"], "either a text query or an example image"),
    (["search", "{photos}/missing", "red"], "Folder not found"),
    (["search", "{photos}", "red", "--model", "{photos}"], "has no readable config.json"),
    (["label", "{photos}/nothing.png", "--labels", "a,b"], "Image not found"),
])
def test_bad_input_is_one_sentence(args, message, colour_clip_path, photos, capsys):
    args = [a.format(photos=photos) for a in args]
    if "--model" not in args:
        args += ["--model", str(colour_clip_path)]
    assert main(["clip", *args]) == 1
    err = capsys.readouterr().err
    assert "error: " in err and message in err and "Traceback" not in err
