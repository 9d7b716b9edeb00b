"""The official openai client against `hearth serve` (a child process, 127.0.0.1) with the real Gemma: chat
(streaming and not), completions, JSON-schema output, embeddings vs the in-process embedder, errors in OpenAI's
shape, and a client that goes away cancelling its generation."""

import json
import threading
import time

import httpx
import numpy as np
import openai
import pytest

pytestmark = pytest.mark.slow

MODEL = "gemma-3-270m-q4_k_m"
GREEDY = dict(temperature=0, seed=1)


def status(api) -> dict:
    return httpx.get(api.url.removesuffix("/v1") + "/hearth/status", headers=api.headers(), timeout=10).json()


def test_models_are_listed_by_installed_id_and_need_the_key(gemma_api):
    listed = {m.id: m for m in gemma_api.client().models.list().data}
    assert listed[MODEL].model_extra["hearth_kind"] == "chat" and listed[MODEL].owned_by == "hearth"
    assert listed[MODEL].model_extra["context_length"] > 0
    assert listed["all-MiniLM-L6-v2"].model_extra["hearth_kind"] == "embedding"
    for key in ("", "wrong-key"):
        with pytest.raises(openai.AuthenticationError) as err:
            openai.OpenAI(base_url=gemma_api.url, api_key=key or "x", max_retries=0,
                          default_headers={} if key else {"Authorization": ""}).models.list()
        assert err.value.status_code == 401 and err.value.body["code"] == "invalid_api_key"
    health = httpx.get(gemma_api.url.removesuffix("/v1") + "/health", timeout=5)  # the one open path
    assert health.status_code == 200 and health.json() == {"status": "ok"}


def test_chat_streaming_and_not_give_the_same_greedy_reply(gemma_api):
    client = gemma_api.client()
    messages = [{"role": "system", "content": "You answer briefly."}, {"role": "user", "content": "Name a colour."}]
    whole = client.chat.completions.create(model=MODEL, messages=messages, max_tokens=12, **GREEDY)
    choice = whole.choices[0]
    assert choice.message.role == "assistant" and choice.message.content
    assert choice.finish_reason in ("stop", "length") and whole.model == MODEL
    assert whole.usage.completion_tokens <= 12 and whole.usage.prompt_tokens > 5
    assert whole.id.startswith("chatcmpl-") and whole.object == "chat.completion"

    chunks = list(client.chat.completions.create(model=MODEL, messages=messages, max_tokens=12, stream=True,
                                                 stream_options={"include_usage": True}, **GREEDY))
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == choice.message.content
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == [choice.finish_reason]
    assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens


def test_text_completion(gemma_api):
    client = gemma_api.client()
    done = client.completions.create(model=MODEL, prompt="The capital of France is", max_tokens=6, **GREEDY)
    assert done.choices[0].text and done.object == "text_completion" and done.usage.completion_tokens <= 6
    streamed = "".join(c.choices[0].text for c in client.completions.create(
        model=MODEL, prompt="The capital of France is", max_tokens=6, stream=True, **GREEDY))
    assert streamed == done.choices[0].text


def test_json_schema_and_json_object_output_parse(gemma_api):
    client = gemma_api.client()
    schema = {"type": "object", "properties": {"city": {"type": "string", "maxLength": 16},
                                               "people": {"type": "integer"}}, "required": ["city", "people"]}
    reply = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "A city and how many people live there, as JSON."}],
        response_format={"type": "json_schema", "json_schema": {"name": "city", "schema": schema}},
        max_tokens=60, **GREEDY)
    data = json.loads(reply.choices[0].message.content)
    assert set(data) == {"city", "people"} and isinstance(data["people"], int) and len(data["city"]) <= 16
    reply = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Describe a cat as JSON."}],
        response_format={"type": "json_object"}, max_tokens=40, **GREEDY)
    content = reply.choices[0].message.content
    if reply.choices[0].finish_reason == "stop":
        assert isinstance(json.loads(content), dict)
    else:  # cut by max_tokens: still JSON so far
        assert content.lstrip().startswith("{")


def test_embeddings_match_the_in_process_embedder(gemma_api):
    from app.core.documents.embedder import get_embedder

    texts = ["The tilt sensor stops the heater.", "Bread needs time to rise.", "hello"]
    client = gemma_api.client()
    floats = client.embeddings.create(model="all-MiniLM-L6-v2", input=texts, encoding_format="float")
    based = client.embeddings.create(model="all-minilm-l6-v2", input=texts)  # the client asks for base64
    a = np.array([d.embedding for d in floats.data])
    b = np.array([d.embedding for d in based.data])
    assert a.shape == (3, 384) and b.shape == (3, 384) and floats.usage.prompt_tokens > 0
    local = get_embedder().encode(texts)
    cosine = (a * local).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(local, axis=1))
    assert cosine.min() > 0.999
    assert np.allclose(a, b, atol=1e-6)
    with pytest.raises(openai.BadRequestError):
        client.embeddings.create(model="all-MiniLM-L6-v2", input="x", dimensions=8)


def test_errors_have_openai_shape_and_status(gemma_api):
    client = gemma_api.client()
    with pytest.raises(openai.NotFoundError) as err:
        client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "hi"}])
    assert err.value.body["code"] == "model_not_found" and MODEL in err.value.body["message"]
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="/etc/passwd", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}], n=2)
    assert err.value.body["param"] == "n"
    with pytest.raises(openai.BadRequestError) as err:  # Gemma's template has no tools
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}],
                                       tools=[{"type": "function", "function": {"name": "f", "parameters": {}}}])
    assert err.value.body["code"] == "tools_not_supported"
    with pytest.raises(openai.BadRequestError) as err:  # more than the context window, even before the reply
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "word " * 20000}],
                                       max_tokens=8)
    assert err.value.body["code"] == "context_length_exceeded" and "tokens" in err.value.body["message"]
    assert "max_tokens" in err.value.body["message"] and "policy" not in err.value.body["message"]

    raw = httpx.Client(base_url=gemma_api.url, headers=gemma_api.headers(), timeout=30)
    bad_json = raw.post("/chat/completions", content=b'{"model": "x", "messages": [', headers={
        "content-type": "application/json"})
    assert bad_json.status_code == 400 and bad_json.json()["error"]["type"] == "invalid_request_error"
    wrong_type = raw.post("/chat/completions", json={"model": MODEL, "messages": "hello"})
    assert wrong_type.status_code == 400 and wrong_type.json()["error"]["param"].startswith("messages")
    huge = raw.post("/embeddings", content=b"x" * (33 << 20), headers={"content-type": "application/json"})
    assert huge.status_code == 413 and huge.json()["error"]["code"] == "request_too_large"
    missing = raw.get("/nothing-here")
    assert missing.status_code == 404 and "error" in missing.json()
    for response in (bad_json, wrong_type, huge, missing):
        assert "Traceback" not in response.text


def test_a_client_that_goes_away_cancels_its_generation(gemma_api):
    before = status(gemma_api)["requests"]["cancelled"]
    body = {"model": MODEL, "messages": [{"role": "user", "content": "Write a long story about a lighthouse."}],
            "max_tokens": 1000, "stream": True, **GREEDY}
    started = time.monotonic()
    with httpx.Client(timeout=120) as http:
        with http.stream("POST", gemma_api.url + "/chat/completions", json=body, headers=gemma_api.headers()) as r:
            assert r.status_code == 200
            lines = 0
            for line in r.iter_lines():
                lines += line.startswith("data:")
                if lines >= 4:
                    break  # leave: the connection closes
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        now = status(gemma_api)
        if now["requests"]["cancelled"] == before + 1 and not now["busy"]:
            break
        time.sleep(0.2)
    assert now["requests"]["cancelled"] == before + 1 and not now["busy"], now
    assert now["loaded_model"] == MODEL
    # the model is free: the next request is answered at once, well before 1000 tokens could have been made
    reply = gemma_api.client().chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Hi"}],
                                                       max_tokens=4, **GREEDY)
    assert reply.choices[0].message.content is not None
    assert time.monotonic() - started < 60


def test_concurrent_clients_queue_and_are_all_served(gemma_api):
    results, errors = [], []

    def ask(i):
        try:
            reply = gemma_api.client().chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": f"Say the number {i}."}], max_tokens=6, **GREEDY)
            results.append(reply.choices[0].finish_reason)
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert errors == [] and len(results) == 4


def test_collections_extension_answers_from_documents_with_sources(gemma_api, monkeypatch, tmp_path):
    from app.core.documents.indexer import IndexRequest, index_collection
    from app.core.jobs import JobState
    from tests.core.documents.corpus import make_corpus

    monkeypatch.setenv("HEARTH_HOME", str(gemma_api.home))  # index into the server's own documents store
    files = make_corpus(tmp_path / "docs")
    index_collection(IndexRequest("manual", [str(files["manual"])]), JobState())
    client = gemma_api.client()
    question = [{"role": "user", "content": "What does error code XK-4471-Q mean?"}]
    reply = client.chat.completions.create(model=MODEL, messages=question, max_tokens=16,
                                           extra_body={"collections": ["manual"]}, **GREEDY)
    documents = reply.model_extra["documents"]
    assert documents["collections"] == ["manual"] and documents["problems"] == []
    first = documents["sources"][0]
    assert first["file"] == str(files["manual"].resolve()) and first["page"] == 3 and "tilt sensor" in first["text"]
    assert reply.usage.prompt_tokens > 60  # the passages went into the prompt

    chunks = list(client.chat.completions.create(model=MODEL, messages=question, max_tokens=16, stream=True,
                                                 extra_body={"collections": ["manual", "gone"]}, **GREEDY))
    last = [c for c in chunks if c.choices and c.choices[0].finish_reason][-1]
    streamed = last.model_extra["documents"]
    assert streamed["sources"][0]["page"] == 3 and "“gone” no longer exists" in streamed["problems"][0]
    # A reply of source numbers only (held there by a grammar) is made again and then replaced by the sources' best
    # sentence: streamed, only that final text is sent, as unstreamed (never "[1] [2] [3]" twice, then the answer).
    bare = {"collections": ["manual"], "grammar": 'root ::= "[1] [2] [3]"'}
    whole = client.chat.completions.create(model=MODEL, messages=question, max_tokens=16, extra_body=bare, **GREEDY)
    assert whole.model_extra["documents"]["extracted"] and "tilt sensor" in whole.choices[0].message.content
    chunks = list(client.chat.completions.create(model=MODEL, messages=question, max_tokens=16, stream=True,
                                                 extra_body=bare, **GREEDY))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == whole.choices[0].message.content
