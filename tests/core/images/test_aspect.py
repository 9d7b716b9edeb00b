"""img2img / inpainting keep the starting image's aspect ratio (issue 12, item 7): real PIL fitting, and real
diffusers pipelines (tiny models) through the engine and `hearth image`."""

import numpy as np
import pytest
from PIL import Image

from app.cli import main as cli_main
from app.core.images.jobs import ImageRequest, Note
from app.core.images.inputs import aspect_size, native_size, prepare
from app.core.images.metadata import read_png
from app.core.images.params import GenerationParams
from app.core.jobs import JobState


@pytest.fixture
def portrait(tmp_path):
    """A 427 x 640 photo (the size of the reported case) with a white square, and a mask of exactly that square."""
    rng = np.random.default_rng(1)
    photo = rng.integers(0, 120, (640, 427, 3), dtype=np.uint8)
    photo[200:400, 100:300] = 255
    mask = np.zeros((640, 427), np.uint8)
    mask[200:400, 100:300] = 255
    Image.fromarray(photo).save(tmp_path / "init_427x640.png")
    Image.fromarray(mask).save(tmp_path / "mask_427x640.png")
    return str(tmp_path / "init_427x640.png"), str(tmp_path / "mask_427x640.png")


@pytest.mark.parametrize("area,expected", [(512 * 512, (416, 624)), (768 * 768, (624, 936)),
                                           (1024 * 1024, (832, 1248))])
def test_aspect_size_is_the_nearest_multiple_of_8_within_the_native_area(area, expected):
    w, h = aspect_size(427, 640, area)
    assert (w, h) == expected and w % 8 == 0 and h % 8 == 0 and w * h <= area
    assert abs(w / h - 427 / 640) < 0.01


def test_a_very_elongated_picture_gets_the_most_elongated_size_the_limits_allow(tmp_path):
    assert aspect_size(100, 4000, 512 * 512, 64, 2048) == (128, 2048)
    Image.new("RGB", (100, 4000)).save(tmp_path / "strip.png")
    fitted = prepare(GenerationParams(mode="img2img", init_image=str(tmp_path / "strip.png"), width=0, height=0,
                                      model="x"), "sd1")
    assert fitted.init.size == (128, 2048) and "its centre, as elongated as the model allows" in fitted.notes[0]


def test_native_size_per_family():
    assert native_size("sd1") == (512, 512) and native_size("sd2-v") == (768, 768)
    assert native_size("sdxl") == (1024, 1024) and native_size("sdxl", "sdxl-turbo") == (512, 512)


def test_auto_size_fits_image_and_mask_the_same_way(portrait):
    init, mask = portrait
    params = GenerationParams(mode="inpaint", init_image=init, mask_image=mask, width=0, height=0, model="x")
    fitted = prepare(params, "sd1")
    assert (fitted.width, fitted.height) == (416, 624)
    assert fitted.init.size == fitted.mask.size == (416, 624)
    square = np.asarray(fitted.init.convert("L")) > 200
    painted = np.asarray(fitted.mask) > 127
    assert (square & painted).sum() / (square | painted).sum() > 0.97  # the mask still covers the same pixels
    assert fitted.notes == ["The starting image is 427x640: generating at 416x624, its aspect ratio within "
                            "SD 1.x's 512x512 area."]


def test_an_explicit_size_of_another_shape_crops_the_centre_instead_of_stretching(portrait):
    init, mask = portrait
    params = GenerationParams(mode="img2img", init_image=init, width=512, height=512, model="x")
    fitted = prepare(params, "sd1")
    assert fitted.init.size == (512, 512)
    square = np.argwhere(np.asarray(fitted.init.convert("L")) > 200)
    height, width = square.max(0) - square.min(0)
    assert abs(height / width - 1.0) < 0.05  # the 200x200 square stays square (stretching made it 1.5 high)
    assert "its centre was used" in fitted.notes[0] and "Match image" in fitted.notes[0]



@pytest.mark.slow
@pytest.mark.parametrize("mode", ["img2img", "inpaint"])
def test_engine_keeps_the_aspect_and_records_the_size_it_made(tiny_models, engine, portrait, mode):
    """The tiny pipelines' native size is 64x64 (UNet sample_size 32 x VAE factor 2): the 427x640 photo is made at
    48x72, said in a note, and recorded as such in both PNG chunks."""
    init, mask = portrait
    notes = []
    state = JobState(on_partial=lambda v: notes.append(v.text) if isinstance(v, Note) else None)
    params = GenerationParams(prompt="a cat", model=str(tiny_models["folder"]), steps=2, seed=3, width=0, height=0,
                              mode=mode, init_image=init, mask_image=mask if mode == "inpaint" else "")
    result = engine.generate(ImageRequest(params, previews=False), state)[0]
    with Image.open(result.path) as img:
        assert img.size == (48, 72)
        assert "Size: 48x72" in img.text["parameters"]
    saved, _ = read_png(result.path)
    assert (saved.width, saved.height) == (48, 72) == (result.params.width, result.params.height)
    assert notes == result.notes and "427x640: generating at 48x72" in notes[0]


@pytest.mark.slow
def test_cli_without_size_keeps_the_aspect_and_says_so(tiny_models, portrait, tmp_path, capsys):
    init, mask = portrait
    out = tmp_path / "inpainted.png"
    rc = cli_main(["image", "--model", str(tiny_models["folder"]), "a cat", "--steps", "2", "--init", init,
                   "--mask", mask, "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "note: The starting image is 427x640: generating at 48x72" in err
    with Image.open(out) as img:
        assert img.size == (48, 72)


@pytest.mark.slow
def test_cli_refuses_an_init_image_beyond_pillows_limit(tiny_models, tmp_path, capsys):
    from tests.fixtures.image_files import png_claiming

    huge = png_claiming(tmp_path / "huge.png", 16000, 12000)
    rc = cli_main(["image", "--model", str(tiny_models["folder"]), "x", "--steps", "1", "--init", str(huge),
                   "--out", str(tmp_path / "o.png")])
    err = capsys.readouterr().err
    assert rc == 1 and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("error: huge.png is too large to open (192 megapixels")
