"""Images over HTTP: Hearth's server answers image_url data URLs with a vision model (real `hearth serve` with the
tiny LM + projector installed), refuses web URLs in a 400, and a Hearth connected to it sends a conversation's
images as image_url data URLs (RemoteChatModel through the real openai client)."""

import base64
import io

import httpx
import numpy as np
import pytest
from PIL import Image

from app.core import connections
from app.core.chat.conversation import Conversation, TurnOptions
from app.core.chat.jobs import ChatEngine, LoadRequest
from app.core.chat.presets import Sampling
from app.core.chat.store import ConversationStore
from app.core.jobs import JobState, run_sync
from app.core.settings import Settings
from tests.fixtures.servers import hearth_serve
from tests.fixtures.tiny_vlm import write_tiny_vlm

pytestmark = pytest.mark.slow
MODEL = "tiny-vlm-f32"


def png_bytes(colour=(30, 200, 30)) -> bytes:
    arr = np.zeros((64, 80, 3), np.uint8)
    arr[:] = colour
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def vision_api(tmp_path_factory):
    folder = tmp_path_factory.mktemp("vlm")
    model, mmproj = write_tiny_vlm(folder)
    server = hearth_serve(tmp_path_factory.mktemp("serve-home"), {"chat": [model, mmproj]})
    yield server
    server.stop()


def ask(server, content, max_tokens=3):
    return httpx.post(server.url + "/chat/completions", headers=server.headers(), timeout=300, json={
        "model": MODEL, "max_tokens": max_tokens, "temperature": 0,
        "messages": [{"role": "user", "content": content}]})


def test_the_server_reads_image_url_data_urls(vision_api):
    ids = [m["id"] for m in httpx.get(vision_api.url + "/models", headers=vision_api.headers()).json()["data"]]
    assert MODEL in ids and not any("mmproj" in i for i in ids)  # the projector is not offered as a model
    text = ask(vision_api, "hello")
    assert text.status_code == 200, text.text
    url = "data:image/png;base64," + base64.b64encode(png_bytes()).decode()
    image = ask(vision_api, [{"type": "image_url", "image_url": {"url": url}}, {"type": "text", "text": "hello"}])
    assert image.status_code == 200, image.text
    # the 32x32 tiny projector adds 16 image embeddings to the prompt
    assert image.json()["usage"]["prompt_tokens"] >= text.json()["usage"]["prompt_tokens"] + 16

    web = ask(vision_api, [{"type": "image_url", "image_url": {"url": "http://example.com/cat.jpg"}}])
    assert web.status_code == 400
    assert "does not fetch images from URLs" in web.json()["error"]["message"]
    broken = ask(vision_api, [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                              {"type": "text", "text": "hi"}])
    assert broken.status_code == 400 and "\n" not in broken.json()["error"]["message"]


def test_a_connected_hearth_sends_the_conversations_images(vision_api, tmp_path):
    settings = Settings.load()
    connections.add(settings, "box", vision_api.url, vision_api.key, timeout_s=300)
    settings.save()
    engine = ChatEngine()
    try:
        info = run_sync(engine.load_job(LoadRequest(f"remote:box/{MODEL}")))
        assert info.extra.get("remote") == "box" and engine.accepts_images
        conv = Conversation(ConversationStore(tmp_path / "c.sqlite3"))
        options = TurnOptions(Sampling(temperature=0, max_tokens=3, seed=1))
        plain = conv.send("hello", options)
        plain_result = run_sync(plain.job(engine), JobState(on_partial=plain.feed))
        conv.finish(plain, plain_result)
        photo = tmp_path / "green.png"
        photo.write_bytes(png_bytes())
        turn = conv.send("hello", options, images=[photo])
        result = run_sync(turn.job(engine), JobState(on_partial=turn.feed))
        assert result.completion_tokens >= 1 and turn.text == result.text
        # the server's usage counts the image's 16 embeddings: the image went over HTTP as an image_url
        first_prompt = plain_result.prompt_tokens
        assert result.prompt_tokens >= first_prompt + 16
    finally:
        engine.unload()
