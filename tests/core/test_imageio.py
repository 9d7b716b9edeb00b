"""Hearth's one image loader (app/core/imageio.py) on the inputs that broke it (issue 12, items 10 and 11): high
bit depth, odd modes, EXIF rotation, and images beyond Pillow's pixel limit. Real Pillow and OpenCV files."""

import time

import numpy as np
import pytest
from PIL import Image

from app.core import imageio
from app.core.errors import UserError
from app.core.segment.images import from_array, load_image
from tests.core.segment.tiny_sam import photo
from tests.fixtures.image_files import bilevel_png, grey, high_depth_files, png_claiming


@pytest.fixture(scope="module")
def scene():
    return photo()  # 320 x 240: gradient background, a bright disc centred at (112, 120), a dark square


@pytest.fixture(scope="module")
def deep_files(scene, tmp_path_factory):
    return high_depth_files(scene, tmp_path_factory.mktemp("deep"))


@pytest.mark.parametrize("name", ["gray16.png", "gray16.tif", "rgb16.png", "rgba16.png", "rgb16.tif",
                                  "gray_float.tif", "rgb_float.tif"])
def test_high_bit_depth_files_show_their_scene_not_a_white_page(deep_files, name):
    path, expected = deep_files[name]
    got = np.asarray(imageio.open_image(path))
    assert got.dtype == np.uint8 and got.shape == expected.shape
    assert np.abs(got.astype(int) - expected).max() <= 1  # rounding only
    assert got.std() > 20  # a picture, not a flat page (Pillow's convert("L") clips 16-bit to 255)


def test_pillow_alone_gets_16_bit_greyscale_wrong(deep_files):
    """What Hearth did before: Image.convert clips 16-bit values, so the photo came out nearly all white."""
    with Image.open(deep_files["gray16.png"][0]) as im:
        assert im.mode == "I;16"
        clipped = np.asarray(im.convert("RGB"))
    assert (clipped == 255).mean() > 0.95


def test_segment_loader_and_its_cache_key_use_the_scaled_pixels(deep_files, scene, tmp_path):
    """Segment opens with the same loader: the 16-bit file gives the pixels (and so the embedding cache key) of
    the same picture saved as 8-bit greyscale; a different 16-bit picture gets a different key."""
    eight = tmp_path / "gray8.png"
    Image.fromarray(grey(scene)).save(eight)
    deep = load_image(deep_files["gray16.png"][0])
    assert deep.key == load_image(eight).key
    other = tmp_path / "other16.png"
    Image.fromarray(grey(photo(seed=1)).astype(np.uint16) * 257).save(other)
    assert load_image(other).key != deep.key


def test_odd_modes_convert_to_rgb(scene, tmp_path):
    rgb = Image.fromarray(scene)
    cases = {
        "cmyk.tif": (rgb.convert("CMYK"), 0),
        "palette.png": (rgb.convert("P"), 60),  # quantised
        "la.png": (rgb.convert("LA"), 0),
        "ycbcr.tif": (rgb.convert("YCbCr"), 3),
    }
    for name, (im, tolerance) in cases.items():
        im.save(tmp_path / name)
        expected = scene if im.mode != "LA" else np.repeat(grey(scene)[:, :, None], 3, axis=2)
        got = np.asarray(imageio.open_image(tmp_path / name))
        assert got.shape == scene.shape and np.abs(got.astype(int) - expected).max() <= tolerance, name


def test_transparency_lies_on_white_for_photos_and_black_for_masks(tmp_path):
    clear = Image.new("RGBA", (8, 8), (10, 20, 30, 0))
    clear.save(tmp_path / "clear.png")
    assert np.asarray(imageio.open_image(tmp_path / "clear.png")).min() == 255
    assert np.asarray(imageio.open_image(tmp_path / "clear.png", "L")).max() == 0


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".tif"])
def test_exif_orientation_is_applied(scene, tmp_path, suffix):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to view
    path = tmp_path / f"rotated{suffix}"
    extra = {".jpg": {"quality": 95, "exif": exif.tobytes()}, ".png": {"exif": exif.tobytes()},
             ".tif": {"tiffinfo": {0x0112: 6}}}[suffix]  # TIFF keeps orientation as its own tag
    Image.fromarray(scene).save(path, **extra)
    got = imageio.open_image(path)
    assert got.size == (240, 320)
    if suffix != ".jpg":
        assert np.array_equal(np.asarray(got), np.rot90(scene, k=-1))


def test_pasted_arrays_of_any_depth_are_scaled(scene):
    assert from_array(scene.astype(np.uint16) * 257).key == from_array(scene).key
    assert from_array(scene.astype(np.float32) / 255).key == from_array(scene).key
    assert imageio.to_uint8(np.array([0.0, 0.5, 1.0, np.nan])).tolist() == [0, 128, 255, 0]
    assert imageio.to_uint8(np.array([-1.0, 3.0])).tolist() == [0, 255]  # own range


def test_an_image_beyond_pillows_limit_is_refused_from_its_header(tmp_path):
    """The header claims 16000 x 12000 (192 megapixels) and the data is missing: a decoder would fail on the
    data ("truncated"); Hearth never decodes it and says the size instead, and never DecompressionBombError."""
    path = png_claiming(tmp_path / "huge.png", 16000, 12000)
    for opener in (imageio.open_image, load_image):
        with pytest.raises(UserError, match=r"huge.png is too large to open .*192 megapixels.*179 megapixels"):
            opener(path)


def test_a_real_bilevel_image_beyond_the_limit_is_refused_quickly(tmp_path):
    path = bilevel_png(tmp_path / "scan.png", 14000, 14000)  # 196 megapixels, valid, 24 kB on disk
    assert path.stat().st_size < 200_000
    started = time.perf_counter()
    with pytest.raises(UserError, match="too large to open"):
        load_image(path)
    assert time.perf_counter() - started < 5  # refused from the header: 196 MB of pixels are never decoded
    with pytest.raises(UserError, match="pasted image is too large"):
        imageio.check_pixels(14000, 14000, "The pasted image")


def test_below_the_limit_opens_without_pillows_warning(tmp_path, recwarn):
    path = bilevel_png(tmp_path / "big.png", 9500, 9450)  # 89.8 megapixels: above Pillow's warning threshold
    image = imageio.open_image(path, "L")
    assert image.size == (9500, 9450)
    assert not [w for w in recwarn if w.category is Image.DecompressionBombWarning]
