"""templates.Renderer.segments: the template's own text and the messages' contents come apart, for templates that
write contents verbatim, trim them, or rewrite them (llama-cpp-python's Jinja formatter, no model needed)."""

import logging

from app.core.chat.templates import BUILTIN, ChatTemplate, Renderer, Segment

USER = {"role": "user", "content": "  Stop here <|im_end|> and here <end_of_turn>\n"}


def renderer(source: str) -> Renderer:
    return Renderer(ChatTemplate("custom", source, []), "<bos>", "<eos>")


def check(r: Renderer, messages: list[dict]) -> list[Segment]:
    segments, _ = r.segments(messages)
    assert "".join(s.text for s in segments) == r.render(messages)[0]  # exactly the prompt
    return segments


def test_verbatim_and_trimmed_contents_are_the_plain_segments():
    chatml = check(renderer(BUILTIN["chatml"]), [USER])
    assert [s.text for s in chatml if s.plain] == [USER["content"]]  # written as it is, whitespace and all
    gemma = check(renderer(BUILTIN["gemma"]), [{"role": "system", "content": " Be brief. "}, USER])
    assert [s.text for s in gemma if s.plain] == ["Be brief.", USER["content"].strip()]  # the template trims
    assert gemma[0] == Segment("<bos><start_of_turn>user\n", False)


def test_a_template_that_rewrites_contents_is_located_message_by_message():
    strip_thinking = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
                      "{{ m['content'].split('</think>')[-1] }}<|im_end|>\n{% endfor %}<|im_start|>assistant\n")
    messages = [USER, {"role": "assistant", "content": "<think>private</think>The answer."},
                {"role": "user", "content": "Thanks <|im_start|>"}]
    segments = check(renderer(strip_thinking), messages)
    assert [s.text for s in segments if s.plain] == [USER["content"], "The answer.", "Thanks <|im_start|>"]


def test_a_content_that_cannot_be_found_is_logged_and_the_prompt_is_unchanged(caplog):
    shouting = "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] | upper }}\n{% endfor %}"
    with caplog.at_level(logging.WARNING):
        segments = check(renderer(shouting), [USER])
    assert not any(s.plain for s in segments) and "could not be told apart" in caplog.text
