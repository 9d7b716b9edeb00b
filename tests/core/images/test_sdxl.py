"""SDXL through Hearth's real loader and engine: two text encoders, text_time conditioning, both file layouts,
every mode and ControlNet. Tiny random-weight models (tiny.build_sdxl), offline."""

import numpy as np
import pytest
from PIL import Image

from app.core.images import families
from app.core.images.jobs import ImageRequest, Preview
from app.core.images.metadata import read_png
from app.core.images.params import GenerationParams
from app.core.jobs import JobState
from tests.core.images.tiny import mode_inputs, pixels

pytestmark = pytest.mark.slow


def _params(tiny_sdxl, layout, **kw):
    model = tiny_sdxl["folder"] if layout == "folder" else tiny_sdxl["single"]
    config = "" if layout == "folder" else str(tiny_sdxl["config"])
    base = dict(prompt="a cat in a hat", model=str(model), config=config, steps=2, width=64, height=64, seed=7,
                scheduler="Euler")
    base.update(kw)
    return GenerationParams(**base)


def test_tiny_sdxl_is_recognised_as_sdxl(tiny_sdxl):
    assert families.detect_family(tiny_sdxl["folder"]) == "sdxl"
    assert families.detect_family(tiny_sdxl["single"]) == "sdxl"


@pytest.mark.parametrize("layout", ["folder", "single"])
@pytest.mark.parametrize("mode", ["txt2img", "img2img", "inpaint", "controlnet-canny"])
def test_every_sdxl_mode_makes_an_image_of_the_requested_size(tiny_sdxl, engine, inputs, layout, mode, hearth_home):
    params = _params(tiny_sdxl, layout, width=64, height=80, **mode_inputs(mode, inputs, tiny_sdxl["controlnet"]))
    previews = []
    state = JobState(on_partial=lambda v: previews.append(v) if isinstance(v, Preview) else None)
    results = engine.generate(ImageRequest(params), state)
    model = engine.cache.model
    assert model.family == "sdxl"
    pipe = model.pipelines[(params.mode, params.controlnet)]
    assert type(pipe).__name__.startswith("StableDiffusionXL")
    assert ("ControlNet" in type(pipe).__name__) == bool(params.control)
    # Every mode's pipeline shares the checkpoint's parts, the second text encoder included.
    assert pipe.text_encoder_2 is model.base.text_encoder_2 and pipe.unet is model.base.unet
    path = results[0].path
    assert path.is_relative_to(hearth_home / "images")
    with Image.open(path) as img:
        assert img.size == (64, 80)
    saved, source = read_png(path)
    assert source == "hearth" and saved.seed == 7 and saved.mode == params.mode and saved.control == params.control
    # img2img / inpaint at strength 0.8 run int(2 * 0.8) = 1 of the 2 steps.
    assert [p.step for p in previews] == list(range(1, previews[-1].steps + 1)) and previews
    assert previews[0].image.shape == (40, 32, 3)


def test_sdxl_single_file_and_folder_give_the_same_image(tiny_sdxl, engine):
    """The Stability-layout file holds the folder's weights (OpenCLIP names for the second encoder, label_emb for
    the size conditioning): same seed → same pixels."""
    a = engine.generate(_params(tiny_sdxl, "folder"), JobState())[0].path
    b = engine.generate(_params(tiny_sdxl, "single"), JobState())[0].path
    assert np.array_equal(pixels(a), pixels(b))


def test_sdxl_uses_both_text_encoders_and_the_size_conditioning(tiny_sdxl, engine):
    engine.generate(_params(tiny_sdxl, "folder"), JobState())  # loaded
    base = engine.cache.model.base
    calls = {"text_encoder": 0, "text_encoder_2": 0, "add_embedding": 0}
    hooks = [getattr(base, n).register_forward_hook(lambda *_a, n=n: calls.__setitem__(n, calls[n] + 1))
             for n in ("text_encoder", "text_encoder_2")]
    hooks.append(base.unet.add_embedding.register_forward_hook(
        lambda *_a: calls.__setitem__("add_embedding", calls["add_embedding"] + 1)))
    try:
        a = pixels(engine.generate(_params(tiny_sdxl, "folder"), JobState())[0].path)
    finally:
        for h in hooks:
            h.remove()
    # Prompt and negative prompt through each encoder; the text_time embedding at every UNet call.
    assert calls["text_encoder"] >= 1 and calls["text_encoder_2"] >= 1 and calls["add_embedding"] >= 2
    b = pixels(engine.generate(_params(tiny_sdxl, "folder", prompt="a dog"), JobState())[0].path)
    assert not np.array_equal(a, b)


def test_sdxl_guidance_zero_runs_without_negative_branch(tiny_sdxl, engine):
    """Few-step SDXL models (Turbo, Lightning) run with guidance 0: no classifier-free guidance batch."""
    results = engine.generate(_params(tiny_sdxl, "folder", guidance=0.0, steps=1, scheduler="Euler a"), JobState())
    assert results[0].path.exists()
    assert read_png(results[0].path)[0].guidance == 0.0
