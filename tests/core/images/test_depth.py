"""The depth ControlNet preprocessor with an installed depth model (transformers' depth-estimation pipeline), and a
depth-controlled generation through the real engine. Tiny random-weight Depth Anything and DPT, offline."""

import numpy as np
import pytest
from PIL import Image

from app.core.images import preprocess
from app.core.images.jobs import ImageRequest
from app.core.images.metadata import read_png
from app.core.images.params import GenerationParams
from app.core.jobs import JobState
from app.core.models import registry
from tests.core.images.tiny import install

pytestmark = pytest.mark.slow


@pytest.fixture
def photo(tmp_path):
    """A 96x80 photo-like picture: a bright square on a gradient (not the size asked for, not RGB)."""
    arr = np.tile(np.linspace(0, 200, 96, dtype=np.uint8), (80, 1))
    arr[20:60, 30:70] = 255
    path = tmp_path / "photo.png"
    Image.fromarray(arr, "L").save(path)
    return str(path)


@pytest.mark.parametrize("kind", ["depth", "dpt"])
def test_depth_control_image_from_an_installed_depth_model(tiny_aux, hearth_home, photo, kind):
    installed = install(tiny_aux[kind], hearth_home, "depth")
    assert [m.path for m in registry.installed("depth")] == [installed]
    assert preprocess.find_depth_model() == installed
    out = preprocess.control_image("depth", photo, 64, 80)
    assert out.size == (64, 80) and out.mode == "RGB"
    arr = np.asarray(out)
    assert arr.shape == (80, 64, 3) and arr.dtype == np.uint8
    assert (arr[..., 0] == arr[..., 1]).all() and (arr[..., 1] == arr[..., 2]).all()  # a grey depth map
    assert arr.min() == 0 and arr.max() == 255  # normalised to the full range, as depth ControlNets expect


def test_generation_with_depth_control(tiny_models, tiny_aux, engine, hearth_home, photo):
    install(tiny_aux["depth"], hearth_home, "depth")
    params = GenerationParams(prompt="a room", model=str(tiny_models["folder"]), steps=2, width=64, height=80,
                              seed=3, scheduler="Euler", control="depth", control_image=photo,
                              controlnet=str(tiny_models["controlnet"]), control_scale=0.8)
    results = engine.generate(ImageRequest(params), JobState())
    with Image.open(results[0].path) as img:
        assert img.size == (64, 80)
    saved, _ = read_png(results[0].path)
    assert saved.control == "depth" and saved.control_scale == 0.8
    assert type(engine.cache.model.pipelines[("txt2img", params.controlnet)]).__name__ == \
        "StableDiffusionControlNetPipeline"
