"""Prompts longer than CLIP's 77 tokens, encoded in 75-token chunks as A1111 does, instead of being cut.

CLIP's text encoder reads 77 positions: a start token, 75 tokens, an end token. diffusers cuts longer prompts (its
logger names what was dropped). A1111 instead splits the prompt's tokens into chunks of 75, encodes each chunk on
its own as start + 75 tokens + end (padded like a short prompt), and concatenates the chunks' hidden states along
the sequence: the UNet's cross-attention takes any length. The negative prompt is padded with empty chunks to the
same count, because classifier-free guidance batches the two. SDXL: both text encoders per chunk (penultimate
layer, joined on the feature axis, as diffusers does) and the pooled embedding of the second encoder from the
first chunk; an empty negative prompt gives zeros when the model asks for that (force_zeros_for_empty_prompt),
as in diffusers. Prompts of at most 75 tokens go to diffusers as text, so short prompts make the same images.

Source: AUTOMATIC1111 stable-diffusion-webui, modules/sd_hijack_clip.py (FrozenCLIPEmbedderWithCustomWordsBase);
diffusers' StableDiffusionPipeline.encode_prompt / StableDiffusionXLPipeline.encode_prompt.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

CHUNK = 75  # tokens per pass, between the start and end tokens


@dataclass
class PromptInputs:
    """What `prompt_inputs` returns: `kwargs` for the pipeline call (prompt text, or the *_embeds tensors), `tokens` the
    longest prompt's length in CLIP tokens (without start / end), `chunks` how many 75-token chunks were encoded (1 when
    passed as text)."""

    kwargs: dict  # for the pipeline call: prompt / negative_prompt, or the *_embeds tensors
    tokens: int  # the longest prompt's length in CLIP tokens (without start / end)
    chunks: int  # 1 when passed as text

    @property
    def note(self) -> str:
        """A sentence for the user when the prompt was encoded in chunks, else ''."""
        if self.chunks <= 1:
            return ""
        return (f"The prompt is {self.tokens} CLIP tokens (one pass of the text encoder reads 75): encoded in "
                f"{self.chunks} chunks of 75 as A1111 does, nothing cut.")


def token_ids(tokenizer, text: str) -> list[int]:
    """`text` as CLIP token ids, without start / end tokens and without truncation."""
    return list(tokenizer(text or "", add_special_tokens=False, truncation=False, verbose=False).input_ids)


def chunk_rows(tokenizer, ids: list[int], count: int) -> tuple[list[list[int]], list[list[int]]]:
    """`count` rows of CHUNK + 2 ids (start, up to 75 tokens, end, padding) and their attention masks. Rows past
    the end of `ids` are empty prompts."""
    bos, eos = tokenizer.bos_token_id, tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
    rows, masks = [], []
    for n in range(count):
        part = ids[n * CHUNK:(n + 1) * CHUNK]
        rows.append([bos, *part, eos] + [pad] * (CHUNK - len(part)))
        masks.append([1] * (len(part) + 2) + [0] * (CHUNK - len(part)))
    return rows, masks


def _device(pipe, module):
    try:
        from diffusers.utils.torch_utils import get_module_execution_device

        return get_module_execution_device(module)
    except ImportError:  # older diffusers
        return pipe._execution_device


def prompt_inputs(pipe, prompt: str, negative: str) -> PromptInputs:
    """The pipeline arguments for `prompt` and `negative`: text when both fit one pass of every tokenizer, else
    chunked embeddings (prompt_embeds, negative_prompt_embeds; SDXL also the pooled ones)."""
    pairs = [(getattr(pipe, t, None), getattr(pipe, e, None))
             for t, e in (("tokenizer", "text_encoder"), ("tokenizer_2", "text_encoder_2"))]
    pairs = [(t, e) for t, e in pairs if t is not None and e is not None]
    ids = [(token_ids(t, prompt), token_ids(t, negative)) for t, _ in pairs]
    longest = max((len(i) for both in ids for i in both), default=0)
    if longest <= CHUNK:
        return PromptInputs({"prompt": prompt, "negative_prompt": negative or None}, longest, 1)
    count = math.ceil(longest / CHUNK)
    if getattr(pipe, "text_encoder_2", None) is not None:
        kwargs = _sdxl_embeds(pipe, pairs, ids, count, negative)
    else:
        kwargs = _sd_embeds(pipe, pairs[0], ids[0], count)
    return PromptInputs(kwargs, longest, count)


def _sd_embeds(pipe, pair, ids, count: int) -> dict:
    """SD 1.x / 2.x: the text encoder's last hidden state per chunk, chunks joined along the sequence."""
    import torch

    tokenizer, encoder = pair
    device = _device(pipe, encoder)
    use_mask = bool(getattr(encoder.config, "use_attention_mask", False))

    def encode(token_list):
        rows, masks = chunk_rows(tokenizer, token_list, count)
        mask = torch.tensor(masks, device=device) if use_mask else None
        with torch.no_grad():
            hidden = encoder(torch.tensor(rows, device=device), attention_mask=mask)[0]  # count x 77 x D
        return hidden.reshape(1, -1, hidden.shape[-1]).to(dtype=encoder.dtype, device=pipe._execution_device)

    return {"prompt_embeds": encode(ids[0]), "negative_prompt_embeds": encode(ids[1])}


def _sdxl_embeds(pipe, pairs, ids, count: int, negative: str) -> dict:
    """SDXL: per chunk, both encoders' penultimate hidden states side by side; pooled from the first chunk."""
    import torch

    def encode(which: int):
        per_encoder, pooled = [], None
        for (tokenizer, encoder), both in zip(pairs, ids):
            rows, _ = chunk_rows(tokenizer, both[which], count)
            with torch.no_grad():
                out = encoder(torch.tensor(rows, device=_device(pipe, encoder)), output_hidden_states=True)
            if pooled is None and out[0].ndim == 2:  # CLIPTextModelWithProjection's text_embeds
                pooled = out[0][:1]
            per_encoder.append(out.hidden_states[-2])  # count x 77 x D_i
        joined = torch.cat(per_encoder, dim=-1)
        return joined.reshape(1, -1, joined.shape[-1]), pooled

    dtype = pipe.text_encoder_2.dtype
    device = pipe._execution_device
    embeds, pooled = encode(0)
    if not negative and getattr(pipe.config, "force_zeros_for_empty_prompt", False):
        neg, neg_pooled = torch.zeros_like(embeds), torch.zeros_like(pooled)
    else:
        neg, neg_pooled = encode(1)
    return {"prompt_embeds": embeds.to(dtype=dtype, device=device),
            "negative_prompt_embeds": neg.to(dtype=dtype, device=device),
            "pooled_prompt_embeds": pooled.to(dtype=dtype, device=device),
            "negative_pooled_prompt_embeds": neg_pooled.to(dtype=dtype, device=device)}
