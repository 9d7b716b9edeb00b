"""Sampling presets (Precise / Balanced / Creative, plus the user's own) and shipped system-prompt presets."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields


@dataclass
class Sampling:
    """Sampling settings of a reply (llama.cpp's samplers: temperature, nucleus top-p, top-k, min-p, repetition
    penalty), the reply's length limit in tokens and the seed (None: a new random one per reply)."""

    temperature: float = 0.7
    top_p: float = 0.95
    top_k: int = 40
    min_p: float = 0.05
    repeat_penalty: float = 1.1
    max_tokens: int = 512
    seed: int | None = None  # None: a new random seed per reply

    def to_dict(self) -> dict:
        """A JSON-ready dict of every field (stored with conversations and presets)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> "Sampling":
        """From a stored dict; unknown keys are ignored, missing ones take their defaults."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (data or {}).items() if k in known})

    def kwargs(self) -> dict:
        """Keyword arguments for ChatModel.chat."""
        return self.to_dict()


BUILTIN_PRESETS: dict[str, Sampling] = {
    "Precise": Sampling(temperature=0.2, top_p=0.9, top_k=20, min_p=0.1, repeat_penalty=1.1),
    "Balanced": Sampling(),
    "Creative": Sampling(temperature=1.0, top_p=0.98, top_k=100, min_p=0.02, repeat_penalty=1.05),
}


def preset(name: str, user_presets: dict | None = None) -> Sampling:
    """The user's preset `name`, else the built-in one, else Balanced. A built-in preset is shared: copy it
    (Sampling.from_dict(p.to_dict())) before changing it."""
    if user_presets and name in user_presets:
        return Sampling.from_dict(user_presets[name])
    return BUILTIN_PRESETS.get(name, BUILTIN_PRESETS["Balanced"])


def preset_names(user_presets: dict | None = None) -> list[str]:
    """Built-in preset names first, then the user's (sorted)."""
    return list(BUILTIN_PRESETS) + sorted(n for n in (user_presets or {}) if n not in BUILTIN_PRESETS)


# System prompts people reach for: step-by-step reasoning (chain of thought) and few-shot classification.
PROMPT_PRESETS: dict[str, str] = {
    "None": "",
    "Helpful assistant": "You are a helpful, concise assistant. Answer accurately; say so when you do not know.",
    "Step by step": (
        "Think through the problem step by step before answering. Write your reasoning as numbered steps, "
        "check each step, then give the final answer on its own line starting with 'Answer:'."
    ),
    "Few-shot classification": (
        "Classify the sentiment of the text as Positive, Negative or Neutral. Reply with the label only.\n\n"
        "Text: I loved every minute of it.\nLabel: Positive\n\n"
        "Text: The package arrived broken and support never answered.\nLabel: Negative\n\n"
        "Text: The meeting is at 3 pm on Thursday.\nLabel: Neutral"
    ),
}
