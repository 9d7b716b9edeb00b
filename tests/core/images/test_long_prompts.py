"""Prompts longer than CLIP's 77 tokens (issue 12, item 9): encoded in 75-token chunks as A1111 does, through the
real diffusers pipelines (tiny SD and SDXL), and kept whole in the PNG."""

import numpy as np
import pytest
import torch

from app.core.images import prompts
from app.core.images.jobs import ImageRequest, Note
from app.core.images.metadata import parse_a1111, read_png
from app.core.images.params import GenerationParams
from app.core.jobs import JobState
from tests.core.images.tiny import pixels

pytestmark = pytest.mark.slow

BASE = ", ".join(["a small house by the sea"] * 6)  # 119 CLIP tokens with the tiny vocabulary: past token 77


def _generate(engine, model, prompt, negative="", notes=None):
    params = GenerationParams(prompt=prompt, negative_prompt=negative, model=str(model), steps=2, width=64,
                              height=64, seed=3, scheduler="Euler")
    state = JobState(on_partial=lambda v: notes.append(v.text) if notes is not None and isinstance(v, Note)
                     else None)
    return engine.generate(ImageRequest(params, previews=False), state)[0]


@pytest.fixture(params=["sd", "sdxl"])
def model(request, tiny_models, tiny_sdxl):
    return tiny_models["folder"] if request.param == "sd" else tiny_sdxl["folder"]


def test_words_after_token_77_change_the_image(engine, model):
    notes = []
    red = _generate(engine, model, BASE + ", red roof", notes=notes)
    blue = _generate(engine, model, BASE + ", blue roof")
    assert len(prompts.token_ids(engine.cache.model.base.tokenizer, BASE)) > 77
    assert not np.array_equal(pixels(red.path), pixels(blue.path))
    assert notes[0].startswith("The prompt is 127 CLIP tokens (one pass of the text encoder reads 75): encoded in "
                               "2 chunks of 75")
    # diffusers' own text path cuts at 77 tokens: the two prompts would have made the same image
    pipe = engine.cache.pipeline("txt2img")
    kw = dict(num_inference_steps=2, width=64, height=64, output_type="np")
    cut = [pipe(prompt=BASE + tail, generator=torch.Generator().manual_seed(3), **kw).images[0]
           for tail in (", red roof", ", blue roof")]
    assert np.array_equal(*cut)


def test_a_long_negative_prompt_counts_too(engine, model):
    a = _generate(engine, model, "a cat", BASE + ", blurry")
    b = _generate(engine, model, "a cat", BASE + ", grainy")
    assert not np.array_equal(pixels(a.path), pixels(b.path))


def test_one_chunk_is_exactly_what_diffusers_encodes(engine, model):
    """The chunking itself is checked against diffusers' encode_prompt on a prompt that fits one pass."""
    _generate(engine, model, "a cat")
    pipe = engine.cache.pipeline("txt2img")
    pairs = [(pipe.tokenizer, pipe.text_encoder)] + \
        ([(pipe.tokenizer_2, pipe.text_encoder_2)] if getattr(pipe, "text_encoder_2", None) is not None else [])
    ids = [(prompts.token_ids(t, "a cat in a hat"), prompts.token_ids(t, "dog")) for t, _ in pairs]
    if len(pairs) == 2:
        mine = prompts._sdxl_embeds(pipe, pairs, ids, 1, "dog")
        theirs = pipe.encode_prompt("a cat in a hat", device="cpu", num_images_per_prompt=1,
                                    do_classifier_free_guidance=True, negative_prompt="dog")
        names = ["prompt_embeds", "negative_prompt_embeds", "pooled_prompt_embeds", "negative_pooled_prompt_embeds"]
    else:
        mine = prompts._sd_embeds(pipe, pairs[0], ids[0], 1)
        theirs = pipe.encode_prompt("a cat in a hat", "cpu", 1, True, "dog")
        names = ["prompt_embeds", "negative_prompt_embeds"]
    for name, tensor in zip(names, theirs):
        assert torch.equal(mine[name], tensor), name


def test_short_prompts_still_go_to_diffusers_as_text(engine, tiny_models):
    _generate(engine, tiny_models["folder"], "a cat")
    text = prompts.prompt_inputs(engine.cache.pipeline("txt2img"), "a cat", "")
    assert text.kwargs == {"prompt": "a cat", "negative_prompt": None} and text.note == ""


def test_the_png_keeps_the_whole_prompt(engine, tiny_models):
    long_prompt = BASE + ", red roof, in the style of a watercolour, morning light"
    result = _generate(engine, tiny_models["folder"], long_prompt, BASE + ", blurry")
    saved, source = read_png(result.path)
    assert source == "hearth" and saved.prompt == long_prompt and saved.negative_prompt == BASE + ", blurry"
    from PIL import Image

    with Image.open(result.path) as img:
        other_tools = parse_a1111(img.text["parameters"])
    assert other_tools.prompt == long_prompt and other_tools.negative_prompt == BASE + ", blurry"
