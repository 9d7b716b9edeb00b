"""The real Gemma GGUF: gemma chat format, streaming, stop, determinism, prefix reuse, context policies."""

import pytest

from app.core.chat.context import ContextFull
from app.core.chat.llama import PromptRead, Token
from app.core.errors import UserError
from app.core.jobs import JobState

Q = [{"role": "user", "content": "List three colours of the rainbow."}]


def stop_after(n):
    """A state that cancels the reply after n streamed pieces (keeps slow machines fast)."""
    pieces = []

    def on_partial(piece):
        if isinstance(piece, Token):
            pieces.append(piece.text)
        if len(pieces) >= n:
            state.cancel()

    state = JobState(on_partial=on_partial)
    return state


def test_base_model_without_template_chats_in_gemma_format(model):
    assert model.info.chat_template is None
    assert model.template.name == "gemma"
    prompt, stops = model.render([{"role": "system", "content": "Be brief."}] + Q)
    assert prompt.startswith("<bos><start_of_turn>user\nBe brief.\n\nList three")
    assert prompt.endswith("<end_of_turn>\n<start_of_turn>model\n")
    assert "<end_of_turn>" in stops
    tokens = model.tokenize(prompt)
    turn = model.tokenize("<start_of_turn>")
    assert tokens[0] == model._bos_id and tokens.count(turn[-1]) == 2  # special tokens, not text


def test_stream_pieces_make_the_reply_and_greedy_is_deterministic(model):
    partials = []
    state = JobState(on_partial=partials.append)
    first = model.chat(Q, max_tokens=10, temperature=0, seed=7, state=state)
    assert partials[0] == PromptRead(first.prompt_tokens, first.reused_tokens, model.n_ctx)
    assert all(isinstance(p, Token) and p.text for p in partials[1:])
    assert first.text and "".join(p.text for p in partials[1:]) == first.text
    assert first.stopped in ("eos", "length") and 0 < first.completion_tokens <= 10
    assert first.prompt_tokens > 10 and first.ttft_s > 0 and first.tokens_per_s > 0
    again = model.chat(Q, max_tokens=10, temperature=0, seed=7)
    assert again.text == first.text


def test_stop_mid_reply_returns_what_came(model):
    pieces = []

    def on_partial(piece):
        if isinstance(piece, Token):
            pieces.append(piece.text)
        if len(pieces) == 3:
            state.cancel()

    state = JobState(on_partial=on_partial)
    result = model.chat(Q, max_tokens=200, temperature=0, seed=1, state=state)
    assert result.stopped == "cancelled"
    assert result.text == "".join(pieces) and len(pieces) == 3
    assert result.completion_tokens < 200
    # the model is still usable afterwards
    assert model.chat(Q, max_tokens=4, temperature=0).completion_tokens > 0


def test_a_grammar_constrains_the_reply_and_a_broken_one_is_refused(model):
    question = [{"role": "user", "content": "Is the sea salty? Answer yes or no."}]
    result = model.chat(question, max_tokens=8, temperature=0.8, seed=3, grammar='root ::= "yes" | "no"')
    assert result.text in ("yes", "no")
    with pytest.raises(UserError, match="grammar"):
        model.chat(question, max_tokens=4, grammar="root ::= ((")


def test_follow_up_turn_reuses_the_cached_prefix(model):
    history = Q + [{"role": "assistant", "content": "Red, green and blue."},
                   {"role": "user", "content": "Now name two more."}]
    model.reset_cache()
    first = model.chat(Q, max_tokens=4, temperature=0)
    assert first.reused_tokens == 0
    second = model.chat(history, max_tokens=4, temperature=0)
    # everything up to the end of the first user turn was already evaluated
    assert second.reused_tokens >= first.prompt_tokens - 1
    model.reset_cache()
    cold = model.chat(history, max_tokens=4, temperature=0)
    assert cold.reused_tokens == 0 and cold.prompt_tokens == second.prompt_tokens


def _long_conversation(turns=24):
    msgs = [{"role": "system", "content": "You are a ship's log keeper."},
            {"role": "user", "content": "FIRST-QUESTION: what is the ship called?"}]
    for i in range(turns):
        msgs.append({"role": "assistant", "content": f"Entry {i}: " + "the wind kept steady from the west " * 4})
        msgs.append({"role": "user", "content": f"Question {i}: and what happened on day {i} at sea?"})
    return msgs


@pytest.mark.parametrize("policy", ["truncate_middle", "rolling_window"])
def test_overflowing_conversation_is_fitted_by_policy(model, policy):
    msgs = _long_conversation()
    assert model.count_messages(msgs) > model.n_ctx  # really too long for n_ctx=512
    fitted = model.fit(msgs, max_tokens=64, policy=policy)
    assert fitted.dropped > 0 and fitted.tokens <= model.n_ctx - 64
    assert fitted.messages[0]["role"] == "system" and fitted.messages[-1] == msgs[-1]
    first_kept = any("FIRST-QUESTION" in m["content"] for m in fitted.messages)
    assert first_kept == (policy == "truncate_middle")
    roles = [m["role"] for m in fitted.messages[1:]]
    assert all(a != b for a, b in zip(roles, roles[1:])), roles  # still alternating
    result = model.chat(msgs, max_tokens=64, temperature=0, policy=policy, state=stop_after(2))
    assert result.dropped_messages == fitted.dropped and result.context_used <= model.n_ctx
    assert result.completion_tokens > 0


def test_overflow_policy_stop_says_so(model):
    with pytest.raises(ContextFull, match="no longer fits"):
        model.chat(_long_conversation(), max_tokens=64, policy="stop")


def test_one_message_longer_than_the_window_is_shortened_not_an_error(model):
    huge = "The quick brown fox jumps over the lazy dog. " * 400  # ~4000 tokens into n_ctx=512
    msgs = [{"role": "system", "content": "Answer from the passages."},
            {"role": "user", "content": "PASSAGES: " + huge + " QUESTION: what jumps?"}]
    # max_tokens larger than the window too
    result = model.chat(msgs, max_tokens=2000, temperature=0, state=stop_after(2))
    assert result.shortened_messages == 1
    assert result.context_used <= model.n_ctx
    assert result.completion_tokens > 0
