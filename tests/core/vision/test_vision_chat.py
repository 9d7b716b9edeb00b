"""Vision chat end to end on real llama.cpp: tiny LM + tiny LLaVA projector, attach → encode → reply tokens."""

import base64
import io

import numpy as np
import pytest
from PIL import Image

from app.core.errors import JobCancelled, UserError
from app.core.jobs import JobState
from app.core.vision.chat import VisionChat, attach, to_openai_messages
from app.core.vision.projector import read_projector
from tests.fixtures.tiny_gguf import write_tiny_llama
from tests.fixtures.tiny_vlm import write_tiny_mmproj

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    paths = {}
    for name, colour in (("red", (220, 20, 20)), ("blue", (20, 20, 220))):
        arr = np.zeros((300, 400, 3), np.uint8)
        arr[:] = colour
        arr[100:200, 150:250] = 255 - np.array(colour, np.uint8)
        paths[name] = folder / f"{name}.jpg"
        Image.fromarray(arr).save(paths[name], quality=95)
    return paths


@pytest.fixture(scope="module")
def vision(tiny_vlm):
    model, _ = tiny_vlm
    vc = VisionChat.load(model, n_ctx=512, n_threads=2)
    yield vc
    vc.close()


def ask(vision, images, text="hello world", **kw):
    pieces = []
    kw.setdefault("max_tokens", 6)
    result = vision.reply([{"role": "user", "content": text, "images": images}], temperature=0, seed=3,
                          state=JobState(on_partial=pieces.append), **kw)
    return result, pieces


def test_image_is_encoded_and_the_model_replies(vision, tiny_vlm, photos):
    assert vision.projector.path == tiny_vlm[1]  # paired by itself: the mmproj beside the model
    text_only, _ = ask(vision, [])
    with_image, pieces = ask(vision, [photos["red"]])
    two_images, _ = ask(vision, [photos["red"], photos["blue"]])
    assert with_image.images == 1 and with_image.completion_tokens >= 1 and with_image.stopped == "length"
    assert "".join(p.text for p in pieces) == with_image.text and pieces
    # 32x32 input, 8x8 patches: each image adds 16 embeddings to the prompt
    assert with_image.prompt_tokens >= text_only.prompt_tokens + 16
    assert two_images.prompt_tokens >= with_image.prompt_tokens + 16
    assert 0 < with_image.ttft_s <= with_image.seconds
    again, _ = ask(vision, [photos["red"]])
    assert again.text == with_image.text  # same seed, same image: same reply (no stale cache between turns)


def test_the_image_reaches_the_language_model(tiny_vlm, photos):
    """Raw llama-cpp-python with the fixture: a different picture changes the next-token distribution."""
    from llama_cpp import Llama

    model, mmproj = tiny_vlm
    llm = Llama(model_path=str(model), n_ctx=512, n_threads=2, logits_all=True, verbose=False)
    try:
        attach(llm, read_projector(mmproj))
        tops = []
        for name in ("red", "blue", "red"):
            messages = to_openai_messages([{"role": "user", "content": "hi", "images": [photos[name]]}], 32)
            out = llm.create_chat_completion(messages=messages, max_tokens=1, temperature=0, logprobs=True,
                                             top_logprobs=5)
            tops.append(out["choices"][0]["logprobs"]["content"][0]["top_logprobs"])
        logprobs = [[t["logprob"] for t in top] for top in tops]
        assert logprobs[0] != logprobs[1] and logprobs[0] == logprobs[2]
    finally:
        llm.close()


def test_unreadable_image_is_refused_and_the_model_keeps_working(vision, photos, tmp_path):
    bad = tmp_path / "holiday.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    with pytest.raises(UserError, match="holiday.jpg"):
        ask(vision, [photos["red"], bad])
    result, _ = ask(vision, [photos["blue"]])
    assert result.completion_tokens >= 1


def test_cancel_before_first_token_and_during_reply(vision, photos):
    state = JobState()
    state.cancel()
    with pytest.raises(JobCancelled):
        vision.reply([{"role": "user", "content": "hi", "images": [photos["red"]]}], state=state)
    state = JobState()
    state._on_partial = lambda _piece: state.cancel()
    result = vision.reply([{"role": "user", "content": "hi", "images": [photos["red"]]}], max_tokens=50,
                          temperature=0, state=state)
    assert result.stopped == "cancelled" and result.completion_tokens <= 4


def test_messages_become_openai_image_url_parts(photos):
    messages = [{"role": "system", "content": "Be brief."},
                {"role": "user", "content": "What is this?", "images": [photos["red"]]}]
    out = to_openai_messages(messages, max_side=64)
    assert out[0] == {"role": "system", "content": "Be brief."}
    image, text = out[1]["content"]
    assert text == {"type": "text", "text": "What is this?"}
    url = image["image_url"]["url"]
    assert image["type"] == "image_url" and url.startswith("data:image/png;base64,")
    decoded = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert decoded.size == (64, 48) and decoded.mode == "RGB"


def test_text_only_model_and_wrong_projector_are_refused(tmp_path, tiny_vlm):
    plain = write_tiny_llama(tmp_path / "plain-F32.gguf")
    with pytest.raises(UserError, match=r"reads text only \(plain-F32.gguf"):
        VisionChat.load(plain, n_ctx=256, n_threads=1)
    wrong = write_tiny_mmproj(tmp_path / "mmproj-wrong.gguf", n_embd_text=96)
    with pytest.raises(UserError, match="makes 96-wide image embeddings but plain-F32.gguf reads 128-wide"):
        VisionChat.load(plain, wrong, n_ctx=256, n_threads=1)


def test_llama_cpp_refusal_is_reported_from_its_log(tmp_path, tiny_vlm):
    """A legacy-style projector (no general.type) says nothing of its width: llama.cpp itself refuses it."""
    import gguf
    from llama_cpp import Llama

    legacy = write_tiny_mmproj(tmp_path / "mmproj-legacy.gguf", n_embd_text=96)
    reader = gguf.GGUFReader(str(legacy))
    writer = gguf.GGUFWriter(str(tmp_path / "mmproj-legacy2.gguf"), "clip")
    for field in reader.fields.values():
        if field.name.startswith("GGUF.") or field.name in ("general.architecture", "general.type"):
            continue
        writer.add_key_value(field.name, field.contents(), field.types[0],
                             field.types[-1] if field.types[0] == gguf.GGUFValueType.ARRAY else None)
    for t in reader.tensors:
        writer.add_tensor(t.name, np.array(t.data), raw_shape=list(reversed(t.shape.tolist())))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    info = read_projector(tmp_path / "mmproj-legacy2.gguf")
    assert info.embedding_size is None  # nothing for Hearth to check up front
    llm = Llama(model_path=str(tiny_vlm[0]), n_ctx=256, n_threads=1, verbose=False)
    try:
        with pytest.raises(UserError, match="makes 96-wide image embeddings but the model reads 128-wide"):
            attach(llm, info)
    finally:
        llm.close()
