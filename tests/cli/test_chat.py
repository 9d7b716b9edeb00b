"""`hearth chat` with the real Gemma GGUF, in a child process."""

import json
import re
import subprocess

import pytest

from tests.core.chat.helpers import gemma_path, not_gguf


def hearth(python, env, *args, timeout=300):
    return subprocess.run([python, "-m", "app", "chat", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_chat_streams_json_and_continues_a_conversation(python, subprocess_env):
    model = str(gemma_path())
    first = hearth(python, subprocess_env, "--model", model, "Name a colour.", "--max-tokens", "8", "--seed", "3",
                   "--temperature", "0", "--ctx", "512", "--json")
    assert first.returncode == 0, first.stderr
    data = json.loads(first.stdout.strip().splitlines()[-1])
    for key in ("tokens", "tokens_per_s", "ttft_s", "prompt_tokens", "conversation"):
        assert key in data
    assert 0 < data["tokens"] <= 8 and data["prompt_tokens"] > 5
    second = hearth(python, subprocess_env, "--conversation", data["conversation"], "And another?",
                    "--max-tokens", "6", "--temperature", "0", "--ctx", "512")
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip()  # the streamed reply
    assert f"conversation {data['conversation']}" in second.stderr
    listed = hearth(python, subprocess_env, "--list")
    assert data["conversation"] in listed.stdout


@pytest.mark.parametrize("make", ["not_gguf", "missing"])
def test_bad_model_is_one_clear_line(python, subprocess_env, tmp_path, make):
    path = not_gguf(tmp_path / "x.gguf") if make == "not_gguf" else tmp_path / "missing.gguf"
    proc = hearth(python, subprocess_env, "--model", str(path), "hi")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1 and ("not a GGUF" in errors[0] or "does not exist" in errors[0])


def test_chat_answers_from_a_collection_and_remembers_it(python, subprocess_env, tmp_path):
    from app.core.documents.indexer import IndexRequest, index_collection
    from app.core.jobs import JobState
    from tests.core.documents.corpus import make_corpus

    files = make_corpus(tmp_path / "docs")
    index_collection(IndexRequest("manual", [str(files["manual"])]), JobState())
    first = hearth(python, subprocess_env, "--model", str(gemma_path()), "What does error code XK-4471-Q mean?",
                   "--collection", "manual", "--collection", "gone", "--max-tokens", "16", "--temperature", "0",
                   "--ctx", "512", "--json")
    assert first.returncode == 0, first.stderr
    data = json.loads(first.stdout.strip().splitlines()[-1])
    docs = data["documents"]
    assert docs["collections"] == ["manual"] and not docs["nothing_found"]
    assert docs["sources"][0]["file"] == str(files["manual"].resolve()) and docs["sources"][0]["page"] == 3
    assert "“gone” no longer exists" in docs["problems"][0]
    given = {s["n"] for s in docs["sources"]}
    assert all(int(n) in given for n in re.findall(r"\[(\d+)\]", data["text"]))  # only valid citations remain
    # continuing the conversation uses its stored collection; nothing relevant is said plainly
    second = hearth(python, subprocess_env, "--conversation", data["conversation"], "Who painted the Mona Lisa?",
                    "--max-tokens", "8", "--temperature", "0", "--ctx", "512")
    assert second.returncode == 0, second.stderr
    assert "Nothing relevant was found in “manual” and “gone”" not in second.stdout
    assert "Nothing relevant was found in “manual”" in second.stdout
    assert "warning: The collection “gone” no longer exists" in second.stderr


@pytest.mark.slow
def test_export_and_import_a_conversation_made_with_the_instruct_model(python, subprocess_env, tmp_path, qwen_gguf):
    made = hearth(python, subprocess_env, "--model", str(qwen_gguf), "Name one primary colour.", "--system",
                  "Answer in one word.", "--max-tokens", "6", "--temperature", "0", "--ctx", "1024", "--json")
    assert made.returncode == 0, made.stderr
    cid = json.loads(made.stdout.strip().splitlines()[-1])["conversation"]
    out = tmp_path / "chat.json"
    exported = hearth(python, subprocess_env, "--export", cid, "--format", "json", "--out", str(out))
    assert exported.returncode == 0 and f"Wrote {out}" in exported.stderr, exported.stderr
    data = json.loads(out.read_text(encoding="utf-8"))
    assert [m["role"] for m in data["messages"]] == ["user", "assistant"]
    assert data["messages"][1]["model"].startswith("Qwen2.5 Coder") and data["messages"][1]["info"]["tokens"] > 0
    imported = hearth(python, subprocess_env, "--import", str(out))
    assert imported.returncode == 0, imported.stderr
    new = imported.stdout.strip()
    assert new != cid and "Imported “Name one primary colour.”" in imported.stderr
    markdown = hearth(python, subprocess_env, "--export", new)  # Markdown to stdout
    assert markdown.stdout.startswith("# Name one primary colour.") and "> Answer in one word." in markdown.stdout
    assert "### Assistant (Qwen2.5 Coder" in markdown.stdout
    missing = hearth(python, subprocess_env, "--export", "nope")
    assert missing.returncode == 1 and missing.stderr.startswith("error: There is no conversation 'nope'")
    bad = hearth(python, subprocess_env, "--import", str(tmp_path / "missing.json"))
    assert bad.returncode == 1 and "error: Could not read" in bad.stderr and "Traceback" not in bad.stderr
