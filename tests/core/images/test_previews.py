"""Live previews through the real engine: TAESD (AutoencoderTiny) when one is installed under models/vae, the linear
approximation otherwise. The tiny TAESD decodes 2x (SD) and the tiny TAESD-XL 4x, so a preview's size says which
decoder made it: 32x32 latents → 32 (approximation), 64 (TAESD) or 128 (TAESD-XL)."""

import logging

import pytest

from app.core.images.jobs import ImageEngine, ImageRequest, Preview
from app.core.images.params import GenerationParams
from app.core.jobs import JobState
from app.core.settings import ImagesSettings
from tests.core.images.tiny import install

pytestmark = pytest.mark.slow


@pytest.fixture
def make_engine():
    made = []

    def make(preview="auto"):
        made.append(ImageEngine(ImagesSettings(preview=preview)))
        return made[-1]

    yield make
    for eng in made:
        eng.free()


def _preview_sizes(engine, model, steps=2):
    previews = []
    state = JobState(on_partial=lambda v: previews.append(v) if isinstance(v, Preview) else None)
    params = GenerationParams(prompt="a cat", model=str(model), steps=steps, width=64, height=64, seed=1,
                              scheduler="Euler")
    results = engine.generate(ImageRequest(params), state)
    assert results[0].path.exists()
    assert [p.step for p in previews] == list(range(1, steps + 1))
    assert all(p.image.dtype.name == "uint8" and p.image.shape[2] == 3 for p in previews)
    return {p.image.shape[:2] for p in previews}


def test_auto_uses_the_installed_taesd_for_sd(tiny_models, tiny_aux, make_engine, hearth_home):
    install(tiny_aux["taesd"], hearth_home, "vae")
    install(tiny_aux["taesdxl"], hearth_home, "vae")
    assert _preview_sizes(make_engine("auto"), tiny_models["folder"]) == {(64, 64)}


def test_auto_uses_taesdxl_for_sdxl_and_not_the_sd_one(tiny_sdxl, tiny_aux, make_engine, hearth_home):
    install(tiny_aux["taesd"], hearth_home, "vae")
    engine = make_engine("auto")
    assert _preview_sizes(engine, tiny_sdxl["folder"]) == {(32, 32)}  # SD's TAESD does not fit SDXL latents
    install(tiny_aux["taesdxl"], hearth_home, "vae")
    assert _preview_sizes(make_engine("auto"), tiny_sdxl["folder"]) == {(128, 128)}


def test_without_taesd_or_when_set_to_approx_previews_are_the_approximation(tiny_models, tiny_aux, make_engine,
                                                                             hearth_home):
    assert _preview_sizes(make_engine("auto"), tiny_models["folder"]) == {(32, 32)}
    install(tiny_aux["taesd"], hearth_home, "vae")
    assert _preview_sizes(make_engine("approx"), tiny_models["folder"]) == {(32, 32)}


def test_preview_off_sends_no_previews(tiny_models, tiny_aux, make_engine, hearth_home):
    install(tiny_aux["taesd"], hearth_home, "vae")
    previews = []
    state = JobState(on_partial=lambda v: previews.append(v) if isinstance(v, Preview) else None)
    params = GenerationParams(prompt="x", model=str(tiny_models["folder"]), steps=2, width=64, height=64)
    assert make_engine("off").generate(ImageRequest(params), state)[0].path.exists()
    assert previews == []


def test_taesd_installed_while_hearth_runs_is_used_by_the_next_image(tiny_models, tiny_aux, make_engine,
                                                                      hearth_home):
    """The Images tab keeps one engine for the whole session: a TAESD downloaded in the Models tab after the
    first image must be picked up without restarting Hearth, and one removed must stop being used."""
    engine = make_engine("auto")
    assert _preview_sizes(engine, tiny_models["folder"]) == {(32, 32)}
    installed = install(tiny_aux["taesd"], hearth_home, "vae")
    assert _preview_sizes(engine, tiny_models["folder"]) == {(64, 64)}
    import shutil

    shutil.rmtree(installed)
    assert _preview_sizes(engine, tiny_models["folder"]) == {(32, 32)}


def test_a_broken_taesd_falls_back_to_the_approximation(tiny_models, tiny_aux, make_engine, hearth_home, caplog):
    broken = install(tiny_aux["taesd"], hearth_home, "vae")
    (broken / "diffusion_pytorch_model.safetensors").write_bytes(b"not safetensors")
    with caplog.at_level(logging.WARNING, logger="app.core.images.previews"):
        assert _preview_sizes(make_engine("auto"), tiny_models["folder"]) == {(32, 32)}
    assert "could not load TAESD" in caplog.text
