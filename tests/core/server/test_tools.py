"""Tool calls: the parser on the markup models write, and the real Qwen2.5-Coder-0.5B-Instruct (a template that
takes `tools`) behind `hearth serve`, answered with OpenAI's `tool_calls`."""

import json

import pytest

from app.core.chat.tools import ToolCallFilter, parse
from tests.fixtures.servers import hearth_serve

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "The current weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "the city"}},
                   "required": ["city"]}}}


def test_parse_reads_hermes_mistral_and_bare_json_calls():
    content, calls = parse('Let me look.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n'
                           '</tool_call>\n<tool_call>{"name": "now", "arguments": {}}</tool_call>')
    assert content == "Let me look." and [c.name for c in calls] == ["get_weather", "now"]
    assert json.loads(calls[0].arguments) == {"city": "Paris"} and calls[0].id.startswith("call_")
    _, calls = parse('[TOOL_CALLS] [{"name": "f", "arguments": {"x": 1}}]')
    assert calls[0].name == "f" and json.loads(calls[0].arguments) == {"x": 1}
    _, calls = parse('{"name": "f", "parameters": {"x": 2}}')
    assert json.loads(calls[0].arguments) == {"x": 2}
    assert parse("Just text, no <b>call</b>.") == ("Just text, no <b>call</b>.", [])
    assert parse('{"name": "not a call"}')[1] == []


def test_the_stream_filter_holds_back_only_what_may_be_a_call():
    text = 'Checking <b>now</b>.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>'
    f = ToolCallFilter()
    sent = "".join(f.feed(ch) for ch in text)  # one character at a time: the worst case
    rest, calls = f.finish()
    assert sent + rest == "Checking <b>now</b>.\n" and calls[0].name == "get_weather"
    f = ToolCallFilter()
    sent = "".join(f.feed(piece) for piece in ["No call ", "here <tool", "s> at all"])
    assert sent + f.finish()[0] == "No call here <tools> at all" and f.finish()[1] == []


@pytest.fixture(scope="module")
def qwen_api(qwen_gguf, tmp_path_factory):
    server = hearth_serve(tmp_path_factory.mktemp("qwen-home"), {"chat": [qwen_gguf]},
                          load="qwen2.5-coder-0.5b-instruct-q4_k_m")
    yield server
    server.stop()


@pytest.mark.slow
def test_qwen_calls_a_tool_and_reads_its_result(qwen_api):
    client = qwen_api.client()
    model = "qwen2.5-coder-0.5b-instruct-q4_k_m"
    messages = [{"role": "user", "content": "What is the weather in Paris right now?"}]
    reply = client.chat.completions.create(model=model, messages=messages, tools=[WEATHER], temperature=0, seed=1,
                                           max_tokens=80)
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls", choice.message
    call = choice.message.tool_calls[0]
    assert call.type == "function" and call.function.name == "get_weather"
    assert "paris" in json.loads(call.function.arguments)["city"].lower()

    # streamed: the same call arrives as a tool_calls delta, no markup in the content
    chunks = list(client.chat.completions.create(model=model, messages=messages, tools=[WEATHER], temperature=0,
                                                 seed=1, max_tokens=80, stream=True))
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    streamed = [d.tool_calls[0] for d in deltas if d.tool_calls]
    assert streamed[0].function.name == "get_weather" and streamed[0].index == 0
    assert "<tool_call>" not in "".join(d.content or "" for d in deltas)
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]

    # the tool's answer goes back; the model answers in words
    messages += [{"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
                 {"role": "tool", "tool_call_id": call.id, "content": '{"temperature_c": 18, "sky": "cloudy"}'}]
    answer = client.chat.completions.create(model=model, messages=messages, tools=[WEATHER], temperature=0, seed=1,
                                            max_tokens=60)
    text = answer.choices[0].message.content
    assert answer.choices[0].finish_reason in ("stop", "length") and "18" in text, text
