"""A real instruct model with its own chat template: Qwen2.5-Coder-0.5B-Instruct (tests/fixtures/qwen.py) through
the path users hit most — the Jinja template stored in the GGUF, rendered by llama-cpp-python's formatter."""

import json

import pytest

from app.core.chat.conversation import Conversation, TurnOptions
from app.core.chat.documents import DocumentsRequest
from app.core.chat.jobs import ReplyRequest
from app.core.chat.presets import Sampling
from app.core.documents.indexer import IndexRequest, index_collection
from app.core.jobs import JobState, run_sync
from tests.core.documents.corpus import make_corpus

pytestmark = pytest.mark.slow

GREEDY = dict(temperature=0, seed=1)


def test_the_template_stored_in_the_gguf_is_detected_and_rendered(qwen):
    assert "<|im_start|>" in qwen.info.chat_template and "tool_call" in qwen.info.chat_template
    assert qwen.template.name == "gguf" and qwen.load_info.template == "From the model file"
    prompt, stops = qwen.render([{"role": "user", "content": "Hi"}])
    # Qwen's template adds its default system turn when there is none
    assert prompt == ("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant."
                      "<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    assert stops == ["<|im_end|>"]  # the formatter's EOS; ChatModel turns it into a token stop
    prompt, _ = qwen.render([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}])
    assert prompt.startswith("<|im_start|>system\nBe brief.<|im_end|>") and "You are Qwen" not in prompt


def test_a_system_prompt_steers_the_reply(qwen):
    result = qwen.chat([{"role": "system", "content": "You are a pirate. Always begin your reply with 'Arrr'."},
                        {"role": "user", "content": "How are you today?"}], max_tokens=8, **GREEDY)
    assert result.text.lower().startswith("arr")


def test_a_later_turn_remembers_an_earlier_one_and_reuses_the_cache(qwen):
    first = [{"role": "user", "content": "My name is Ada and my favourite number is 47."}]
    qwen.reset_cache()
    opening = qwen.chat(first, max_tokens=12, **GREEDY)
    history = first + [{"role": "assistant", "content": opening.text},
                       {"role": "user", "content": "What is my favourite number? Answer with the number only."}]
    second = qwen.chat(history, max_tokens=6, **GREEDY)
    assert "47" in second.text
    assert second.reused_tokens >= opening.prompt_tokens - 1  # only the new turn was read


def test_stop_sequences_end_the_reply(qwen):
    question = [{"role": "user", "content": "Count from 1 to 10, separated by commas."}]
    result = qwen.chat(question, max_tokens=40, stop=["5"], **GREEDY)
    assert result.text.startswith("1, 2") and "5" not in result.text and "6" not in result.text
    assert result.stopped == "eos"


def test_a_json_schema_grammar_makes_valid_json_through_the_chat_turn(qwen_engine):
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    schema = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
              "required": ["name", "age"]}
    options = TurnOptions(Sampling(max_tokens=40, **GREEDY), grammar=json_schema_to_gbnf(json.dumps(schema)))
    conversation = Conversation.in_memory()
    turn = conversation.send("Invent a person: give their name and age as JSON.", options)
    result = run_sync(turn.job(qwen_engine), JobState(on_partial=turn.feed))
    person = json.loads(result.text)
    assert set(person) == {"name", "age"} and isinstance(person["name"], str) and isinstance(person["age"], int)


def test_a_document_answer_cites_the_page_it_comes_from(qwen_engine, tmp_path):
    files = make_corpus(tmp_path / "docs")
    index_collection(IndexRequest("manual", [str(files["manual"])]), JobState())
    request = ReplyRequest([{"role": "user", "content": "What does error code XK-4471-Q mean?"}],
                           dict(max_tokens=40, **GREEDY), documents=DocumentsRequest(["manual"], k=3))
    result = qwen_engine.reply(request, JobState())
    use = result.documents
    assert (use.sources[0].file, use.sources[0].page) == (str(files["manual"].resolve()), 3)
    assert use.cited and use.cited[0] == 1 and "[1]" in result.text and use.invalid == []
