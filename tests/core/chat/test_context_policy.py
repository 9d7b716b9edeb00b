"""The overflow policies, with a word counter standing in for a tokenizer."""

import pytest

from app.core.chat.context import MARKER, ContextFull, fit, reserve_for_reply


def count(messages):
    return sum(len(m["content"].split()) + 4 for m in messages)


def conv(n):
    msgs = [{"role": "system", "content": "sys"}, {"role": "user", "content": "first question here"}]
    for i in range(n):
        msgs += [{"role": "assistant", "content": f"answer {i} " * 5}, {"role": "user", "content": f"q{i} " * 3}]
    return msgs


def test_fits_untouched():
    msgs = conv(2)
    out = fit(msgs, 1000, count)
    assert out.messages == msgs and out.dropped == 0 and out.note == ""


def test_truncate_middle_keeps_system_first_user_and_latest():
    msgs = conv(20)
    out = fit(msgs, 120, count, "truncate_middle")
    assert out.tokens <= 120 and out.dropped > 0
    assert out.messages[:2] == msgs[:2] and out.messages[-1] == msgs[-1]
    assert out.messages[2]["role"] == "assistant"
    assert "left out" in out.note


def test_rolling_window_keeps_system_and_latest():
    msgs = conv(20)
    out = fit(msgs, 120, count, "rolling_window")
    assert out.messages[0] == msgs[0] and out.messages[1]["role"] == "user" and out.messages[1] != msgs[1]
    assert out.messages[-1] == msgs[-1] and out.tokens <= 120


def test_drops_as_little_as_possible():
    msgs = conv(20)
    out = fit(msgs, 120, count, "rolling_window")
    bigger = [msgs[0]] + msgs[len(msgs) - len(out.messages) - 1:]
    assert count(bigger) > 120


def test_stop_raises():
    with pytest.raises(ContextFull):
        fit(conv(20), 50, count, "stop")


def test_single_huge_message_is_cut_in_the_middle():
    msgs = [{"role": "user", "content": "START " + "word " * 1000 + "END"}]
    out = fit(msgs, 100, count)
    text = out.messages[0]["content"]
    assert out.tokens <= 100 and out.shortened == 1
    assert text.startswith("START") and text.endswith("END") and MARKER.strip() in text
    assert msgs[0]["content"].startswith("START word word")  # the caller's list is not modified


def test_reserve_for_reply():
    assert reserve_for_reply(512, 64) == 64 and reserve_for_reply(512, 4000) == 256
