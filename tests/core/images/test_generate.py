"""Generation through Hearth's real loader and engine, with tiny random-weight models, offline."""

import numpy as np
import pytest
from PIL import Image

from app.core.errors import JobCancelled
from app.core.images.jobs import ImageRequest, Preview
from app.core.images.metadata import read_png
from app.core.images.params import GenerationParams
from app.core.jobs import JobState
from tests.core.images.tiny import mode_inputs, pixels

pytestmark = pytest.mark.slow


def _params(tiny_models, layout, **kw):
    model = tiny_models["folder"] if layout == "folder" else tiny_models["single"]
    config = "" if layout == "folder" else str(tiny_models["config"])
    base = dict(prompt="a cat in a hat", model=str(model), config=config, steps=2, width=64, height=64, seed=7,
                scheduler="Euler")
    base.update(kw)
    return GenerationParams(**base)


@pytest.mark.parametrize("layout", ["folder", "single"])
@pytest.mark.parametrize("mode", ["txt2img", "img2img", "inpaint", "controlnet-canny"])
def test_every_mode_makes_an_image_of_the_requested_size(tiny_models, engine, inputs, layout, mode, hearth_home):
    params = _params(tiny_models, layout, width=64, height=80, **mode_inputs(mode, inputs, tiny_models["controlnet"]))
    results = engine.generate(ImageRequest(params), JobState())
    assert len(results) == 1
    path = results[0].path
    assert path.exists() and path.is_relative_to(hearth_home / "images")
    with Image.open(path) as img:
        assert img.size == (64, 80)
    saved, source = read_png(path)
    assert source == "hearth" and saved.seed == 7 and saved.mode == params.mode and saved.control == params.control


def test_single_file_and_folder_give_the_same_image(tiny_models, engine):
    """The LDM-layout file holds the folder's weights: same seed → same pixels, which proves the key mapping."""
    a = engine.generate(_params(tiny_models, "folder"), JobState())[0].path
    b = engine.generate(_params(tiny_models, "single"), JobState())[0].path
    assert np.array_equal(pixels(a), pixels(b))


def test_same_seed_same_image_bitwise_and_other_seed_differs(tiny_models, engine):
    a = engine.generate(_params(tiny_models, "folder", seed=123), JobState())[0].path
    b = engine.generate(_params(tiny_models, "folder", seed=123), JobState())[0].path
    c = engine.generate(_params(tiny_models, "folder", seed=124), JobState())[0].path
    assert np.array_equal(pixels(a), pixels(b))
    assert not np.array_equal(pixels(a), pixels(c))


def test_random_seed_is_recorded_and_batch_uses_consecutive_seeds(tiny_models, engine):
    results = engine.generate(_params(tiny_models, "folder", seed=-1, batch_count=2), JobState())
    assert len(results) == 2
    assert results[1].seed == (results[0].seed + 1) % 2**32
    assert read_png(results[0].path)[0].seed == results[0].seed


def test_modes_share_components_and_do_not_reload(tiny_models, engine, inputs):
    engine.generate(_params(tiny_models, "folder"), JobState())
    loads = engine.cache.loads
    engine.generate(_params(tiny_models, "folder", mode="img2img", init_image=inputs["init"]), JobState())
    engine.generate(_params(tiny_models, "folder", mode="inpaint", init_image=inputs["init"],
                            mask_image=inputs["mask"]), JobState())
    assert engine.cache.loads == loads
    model = engine.cache.model
    pipes = list(model.pipelines.values())
    assert len(pipes) == 3 and len({id(p) for p in pipes}) == 3
    assert all(p.unet is model.base.unet and p.vae is model.base.vae and p.text_encoder is model.base.text_encoder
               for p in pipes)


def test_previews_each_step_and_progress(tiny_models, engine):
    previews, progress = [], []
    state = JobState(on_progress=lambda f, t: progress.append(f),
                     on_partial=lambda v: previews.append(v) if isinstance(v, Preview) else None)
    engine.generate(_params(tiny_models, "folder", steps=3), state)
    assert [p.step for p in previews] == [1, 2, 3]
    assert previews[0].image.shape == (32, 32, 3) and previews[0].image.dtype == np.uint8
    assert progress[-1] == 1.0


def test_cancel_at_step_two_stops_and_engine_stays_usable(tiny_models, engine, hearth_home):
    steps = []

    def on_partial(value):
        if isinstance(value, Preview):
            steps.append(value.step)
            if value.step == 2:
                state.cancel()

    state = JobState(on_partial=on_partial)
    with pytest.raises(JobCancelled):
        engine.generate(_params(tiny_models, "folder", steps=6), state)
    assert steps == [1, 2]  # stopped at the next step boundary, not after all 6
    assert not list((hearth_home / "images").rglob("*.png"))
    results = engine.generate(_params(tiny_models, "folder"), JobState())
    assert results[0].path.exists()


def test_schedulers_all_run(tiny_models, engine):
    from app.core.images.params import SCHEDULERS

    for name in SCHEDULERS:
        results = engine.generate(_params(tiny_models, "folder", scheduler=name, steps=2), JobState())
        assert results[0].path.exists(), name


def test_lora_with_weight_changes_the_image(tiny_models, engine, tmp_path):
    import torch
    from diffusers import StableDiffusionPipeline
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    from tests.core.images import tiny

    unet = tiny.build_components()["unet"]
    unet.add_adapter(LoraConfig(r=4, lora_alpha=4, target_modules=["to_q", "to_k", "to_v", "to_out.0"]))
    torch.manual_seed(3)
    with torch.no_grad():
        for name, p in unet.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
    StableDiffusionPipeline.save_lora_weights(tmp_path, unet_lora_layers=get_peft_model_state_dict(unet),
                                              weight_name="style.safetensors")
    lora = str(tmp_path / "style.safetensors")
    plain = pixels(engine.generate(_params(tiny_models, "folder"), JobState())[0].path)
    full = pixels(engine.generate(_params(tiny_models, "folder", loras=[(lora, 1.0)]), JobState())[0].path)
    zero = pixels(engine.generate(_params(tiny_models, "folder", loras=[(lora, 0.0)]), JobState())[0].path)
    back = pixels(engine.generate(_params(tiny_models, "folder"), JobState())[0].path)
    assert not np.array_equal(plain, full)
    assert np.abs(plain.astype(int) - zero.astype(int)).max() <= 1
    assert np.array_equal(plain, back)  # removing the LoRA restores the model
