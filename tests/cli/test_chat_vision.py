"""`hearth chat --image` in a child process: the tiny LM + projector answer about a photo; a text-only model and a
corrupt photo exit 1 with one sentence and store nothing."""

import json
import subprocess

import numpy as np
import pytest
from PIL import Image

from tests.fixtures.tiny_gguf import write_tiny_llama
from tests.fixtures.tiny_vlm import write_tiny_vlm

pytestmark = pytest.mark.slow


def hearth(python, env, *args, timeout=300):
    return subprocess.run([python, "-m", "app", "chat", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli-vlm")
    model, _ = write_tiny_vlm(folder / "vlm")
    plain = write_tiny_llama(folder / "plain-F32.gguf")
    photo = folder / "PHOTO.jpg"
    arr = np.zeros((90, 120, 3), np.uint8)
    arr[:, :60] = (200, 20, 20)
    Image.fromarray(arr).save(photo)
    broken = folder / "broken.jpg"
    broken.write_bytes(photo.read_bytes()[:40])
    return {"model": model, "plain": plain, "photo": photo, "broken": broken}


def error_lines(proc):
    return [ln for ln in proc.stderr.splitlines() if ln.startswith("error: ")]


def test_chat_about_a_photo(python, subprocess_env, files):
    args = ("--max-tokens", "4", "--temperature", "0", "--ctx", "512", "--json")
    text = hearth(python, subprocess_env, "--model", str(files["model"]), "What is in this picture?", *args)
    assert text.returncode == 0, text.stderr
    proc = hearth(python, subprocess_env, "--model", str(files["model"]), "--image", str(files["photo"]),
                  "--image", str(files["photo"]), "What is in this picture?", *args)
    assert proc.returncode == 0, proc.stderr
    with_images = json.loads(proc.stdout.strip().splitlines()[-1])
    without = json.loads(text.stdout.strip().splitlines()[-1])
    assert with_images["tokens"] >= 1
    assert with_images["prompt_tokens"] >= without["prompt_tokens"] + 32  # two images, 16 embeddings each
    # the conversation keeps its own copy of the photo
    from app.core.chat.store import ConversationStore

    store = ConversationStore()
    (first_message, _reply) = store.branch(with_images["conversation"])
    assert len(first_message.images) == 2 and all(p.endswith(".jpg") for p in first_message.images)


def test_text_only_model_and_corrupt_photo_exit_with_a_sentence(python, subprocess_env, files):
    proc = hearth(python, subprocess_env, "--model", str(files["plain"]), "--image", str(files["photo"]),
                  "What is in this picture?", "--ctx", "256")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    (line,) = error_lines(proc)
    assert "This model reads text only" in line and "SmolVLM" in line
    proc = hearth(python, subprocess_env, "--model", str(files["model"]), "--image", str(files["broken"]), "hi")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    (line,) = error_lines(proc)
    assert "broken.jpg" in line
    listed = hearth(python, subprocess_env, "--list")
    assert listed.stdout.strip() == ""  # nothing was stored
