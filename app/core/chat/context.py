"""What to send when a conversation no longer fits the context window.

Policies (LM Studio's three):
- truncate_middle (default): keep the system prompt, the first user turn and the latest turns; drop the middle.
- rolling_window: keep the system prompt and the latest turns; drop the oldest.
- stop: refuse, and say so.
When even the smallest set of messages does not fit, the longest message is shortened in its middle.
Pure functions over a `count(messages) -> tokens` callback, so they are tested without a model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from app.core.errors import UserError

POLICIES = ("truncate_middle", "rolling_window", "stop")
POLICY_LABELS = {
    "truncate_middle": "Truncate the middle",
    "rolling_window": "Rolling window",
    "stop": "Stop and tell me",
}
MARKER = "\n[…]\n"


class ContextFull(UserError):
    """The conversation does not fit and the policy is 'stop'."""


@dataclass
class Fitted:
    """What fit() kept: the messages to send and their size in tokens, with how many were dropped or shortened."""

    messages: list[dict]
    tokens: int
    dropped: int = 0  # messages left out
    shortened: int = 0  # messages cut in their middle

    @property
    def note(self) -> str:
        """'3 earlier messages left out; 1 long message shortened' ("" when nothing was)."""
        parts = []
        if self.dropped:
            parts.append(f"{self.dropped} earlier message{'s' if self.dropped != 1 else ''} left out")
        if self.shortened:
            parts.append(f"{self.shortened} long message{'s' if self.shortened != 1 else ''} shortened")
        return "; ".join(parts)


def reserve_for_reply(n_ctx: int, max_tokens: int) -> int:
    """Tokens kept free for the reply: max_tokens, but never more than half the window."""
    return max(1, min(int(max_tokens), n_ctx // 2))


def fit(messages: list[dict], budget: int, count: Callable[[list[dict]], int], policy: str = "truncate_middle",
        n_ctx: int | None = None) -> Fitted:
    """Fit `messages` ([{"role", "content"}], system first when there is one) into `budget` tokens as counted by
    `count` (messages → prompt tokens, the chat template included), under `policy` (POLICIES).

    Dropping keeps the roles alternating: the smallest cut of the middle that fits is found by binary search over
    the cut points (the count shrinks as more is dropped). When even the head and the newest message do not fit,
    the longest messages are shortened in their middle (MARKER) until they do (40 rounds at most). `n_ctx` only
    words the error. Raises ContextFull under "stop", UserError for an unknown policy."""
    if policy not in POLICIES:
        raise UserError(f"Unknown context policy {policy!r}; choose one of {', '.join(POLICIES)}.")
    messages = list(messages)
    total = count(messages)
    if total <= budget:
        return Fitted(messages, total)
    if policy == "stop":
        window = f" of {n_ctx}" if n_ctx else ""
        raise ContextFull(
            f"This conversation no longer fits the model's context window: it needs {total} tokens, "
            f"{budget}{window} are available for it. Start a new conversation, raise the context length, "
            "or choose another overflow policy (truncate the middle, rolling window).")

    head_len = 1 if messages and messages[0]["role"] == "system" else 0
    if policy == "truncate_middle":
        first_user = next((i for i in range(head_len, len(messages)) if messages[i]["role"] == "user"), None)
        if first_user is not None and first_user < len(messages) - 1:
            head_len = first_user + 1
    head = messages[:head_len]
    last = len(messages) - 1
    middle = messages[head_len:last] if last >= head_len else []
    tail = messages[last:] if last >= head_len else []

    # Which role must the first kept middle message have, so roles still alternate after the cut?
    want = "assistant" if head and head[-1]["role"] == "user" else "user"
    cuts = [k for k in range(len(middle)) if middle[k]["role"] == want] + [len(middle)]
    cuts = sorted(set(k for k in cuts if k > 0) | {len(middle)})
    # Binary search the smallest cut that fits (counts shrink as more is dropped).
    lo, hi = 0, len(cuts) - 1
    best = None
    while lo <= hi:
        mid = (lo + hi) // 2
        candidate = head + middle[cuts[mid]:] + tail
        n = count(candidate)
        if n <= budget:
            best, hi = (cuts[mid], candidate, n), mid - 1
        else:
            lo = mid + 1
    if best is not None:
        k, kept, n = best
        return Fitted(kept, n, dropped=k)

    # Even head + newest message is too long: shorten the longest messages in their middle.
    kept = [dict(m) for m in head + tail]
    dropped = len(middle)
    shortened: set[int] = set()
    n = count(kept)
    for _ in range(40):
        if n <= budget:
            break
        i = max(range(len(kept)), key=lambda j: len(kept[j]["content"]))
        text = kept[i]["content"]
        if len(text) <= len(MARKER) + 2:
            break
        excess = n - budget
        ratio = min(0.9, max(0.05, (excess * 1.15 + 4) / max(1, n)))
        cut = max(1, int(len(text) * ratio))
        keep = len(text) - cut
        kept[i]["content"] = text[: keep // 2] + MARKER + text[len(text) - (keep - keep // 2):]
        shortened.add(i)
        n = count(kept)
    return Fitted(kept, n, dropped=dropped, shortened=len(shortened))
