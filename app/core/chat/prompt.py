"""A rendered prompt as tokens, with only the chat template's own markers read as control tokens.

llama.cpp turns the text `<end_of_turn>` or `<|im_end|>` into the control token when it tokenizes with special
tokens on, wherever the text comes from. Tokenizing a whole rendered prompt that way lets a user (or a document
passage) end their turn and open another, e.g. a fake system turn. Here the prompt comes as templates.Segment
pieces: the template's text, in which control tokens are found, and message contents, which are never searched
for them.

The tokens are the ones llama.cpp gives the whole prompt when no content holds control-token text: the template
text is split at its control tokens (found by tokenizing it with special tokens on), and each run of text between
two control tokens — template text and contents together — is tokenized as plain text, as llama.cpp tokenizes the
fragments between special tokens (same SentencePiece space-prefix rule, no BPE merge across a marker). Prefix
reuse of the KV cache keeps working, and context fitting counts exactly the tokens sent.

Stop strings that are a control token (a template's `<|im_end|>`) become token stops: as text they would cut a
reply that merely writes the marker's text, and llama.cpp never writes a control token out as text anyway.
"""

from __future__ import annotations

from app.core.chat.templates import Segment

_CACHE_MAX = 512


class PromptTokenizer:
    """Tokenizes Segment lists for one llama_cpp.Llama. `add_bos`: the model wants BOS first (put there unless the
    template wrote it). Not thread-safe (ChatModel holds its lock)."""

    def __init__(self, llm, bos_id: int, add_bos: bool) -> None:
        import llama_cpp

        self._llm = llm
        self._vocab = llm._model.vocab
        self._special_attr = llama_cpp.LLAMA_TOKEN_ATTR_CONTROL | llama_cpp.LLAMA_TOKEN_ATTR_UNKNOWN
        self._get_attr = llama_cpp.llama_vocab_get_attr
        self._bos_id = bos_id
        self._add_bos = add_bos and bos_id >= 0
        self._splits: dict[str, list[str | int]] = {}

    def is_control(self, token: int) -> bool:
        """The token is a control (or unknown) token: only the template may produce it."""
        return bool(self._get_attr(self._vocab, token) & self._special_attr)

    def plain(self, text: str) -> list[int]:
        """Token ids of `text` as plain text (no control tokens, no BOS)."""
        return self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False) if text else []

    def split(self, template_text: str) -> list[str | int]:
        """The template's text as runs of text and control-token ids, in order (cached: a template repeats the
        same pieces every turn)."""
        parts = self._splits.get(template_text)
        if parts is not None:
            return parts
        parts = []
        at = 0
        tokens = self._llm.tokenize(template_text.encode("utf-8"), add_bos=False, special=True)
        for token in tokens:
            if not self.is_control(token):
                continue
            marker = self._llm._model.token_get_text(token)
            found = template_text.find(marker, at) if marker else -1
            if found < 0:  # a marker whose text cannot be found: keep the template text as llama.cpp reads it
                parts = list(tokens)
                break
            if found > at:
                parts.append(template_text[at:found])
            parts.append(token)
            at = found + len(marker)
        else:
            if at < len(template_text):
                parts.append(template_text[at:])
        if len(self._splits) >= _CACHE_MAX:
            self._splits.clear()
        self._splits[template_text] = parts
        return parts

    def tokens(self, segments: list[Segment]) -> list[int]:
        """Token ids of the prompt: control tokens only where the template wrote them, BOS first when the model
        wants it."""
        out: list[int] = []
        run: list[str] = []
        for segment in segments:
            if segment.plain:
                run.append(segment.text)
                continue
            for part in self.split(segment.text):
                if isinstance(part, int):
                    out += self.plain("".join(run))
                    run = []
                    out.append(part)
                else:
                    run.append(part)
        out += self.plain("".join(run))
        if self._add_bos and (not out or out[0] != self._bos_id):
            out.insert(0, self._bos_id)
        return out

    def stops(self, stops: list[str]) -> tuple[list[str], set[int]]:
        """Split a template's stop strings into (text stops, token ids): a string that is exactly one control
        token stops on that token."""
        texts: list[str] = []
        ids: set[int] = set()
        for stop in stops:
            tokens = self._llm.tokenize(stop.encode("utf-8"), add_bos=False, special=True)
            if len(tokens) == 1 and self.is_control(tokens[0]):
                ids.add(tokens[0])
            else:
                texts.append(stop)
        return texts, ids
