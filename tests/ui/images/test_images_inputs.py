"""The Images tab with the inputs of issue 12: big seeds (typed and from a PNG), a portrait starting image kept
in shape, a 16-bit starting image, one beyond Pillow's pixel limit, and a long prompt from a dropped PNG. Real Qt
widgets, real jobs, the tiny real pipeline."""

import numpy as np
import pytest
from PIL import Image

from app.core.images.params import AUTO_SIZE, MAX_SEED
from tests.fixtures.image_files import a1111_png, grey, png_claiming
from tests.ui.images.test_images_tab import _run, tab, window  # noqa: F401 - shared fixtures

pytestmark = pytest.mark.slow

BIG = 4324379876


def test_the_seed_field_holds_every_torch_seed(qtbot, tab):
    sp = tab.settings_panel
    sp.seed.clear()
    qtbot.keyClicks(sp.seed, str(MAX_SEED))
    assert sp.seed.value() == MAX_SEED
    sp.seed.setValue(-1)
    assert sp.seed.text() == "" and sp.seed.placeholderText() == "random" and sp.seed.value() == -1
    sp.seed.clear()
    qtbot.keyClicks(sp.seed, "12ab-3")  # the validator keeps digits only
    assert sp.seed.text() == "123"


def test_a_seed_past_2_64_is_refused_in_a_sentence(qtbot, tab, window):
    tab.settings_panel.seed.setText(str(2**64))
    assert tab.generate() is None
    assert "Seed 18446744073709551616 is too large" in window.message_bar.label.text()


def test_reusing_a_png_with_a_big_seed_restores_and_records_it(qtbot, tab, window, tmp_path):
    dropped = a1111_png(tmp_path / "other.png", "a lighthouse\nSteps: 2, Sampler: Euler, CFG scale: 7, "
                                                "Seed: 4324379876, Size: 64x64, Model: other")
    tab.open_dropped(str(dropped))
    assert tab.settings_panel.seed.value() == BIG
    handle = _run(qtbot, tab)
    assert handle.status == "done", handle.error
    assert handle.result[0].seed == BIG and f"Seed: {BIG}" in tab.gallery.info.toPlainText()
    assert "draws the same noise as seed 29412580" in window.message_bar.label.text()
    tab.settings_panel.seed.setValue(-1)
    tab.gallery.reuse.click()
    assert tab.settings_panel.seed.value() == BIG


def test_a_portrait_starting_image_keeps_its_shape_and_the_tab_says_so(qtbot, tab, window, tmp_path):
    sp = tab.settings_panel
    sp.mode.setCurrentIndex(sp.mode.findData("img2img"))
    assert sp.size.currentText() == "64x64"  # a size the user chose stays
    sp.mode.setCurrentIndex(sp.mode.findData("txt2img"))
    sp.size.setCurrentText(sp.default_size)
    sp.mode.setCurrentIndex(sp.mode.findData("img2img"))
    assert sp.size.currentText() == AUTO_SIZE  # otherwise img2img starts on "Match image"
    photo = tmp_path / "portrait.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (640, 427, 3), dtype=np.uint8)).save(photo)
    tab.set_init_image(str(photo))
    assert "427×640" in tab.status.text()
    handle = _run(qtbot, tab)
    assert handle.status == "done", handle.error
    made = handle.result[0]
    assert (made.params.width, made.params.height) == (48, 72)  # the tiny model's 64x64 area, portrait
    assert "generating at 48x72, its aspect ratio" in window.message_bar.label.text()
    sp.mode.setCurrentIndex(sp.mode.findData("txt2img"))
    assert sp.size.currentText() == sp.default_size


def test_a_16_bit_starting_image_shows_its_picture(tab, tmp_path):
    rgb = np.random.default_rng(2).integers(0, 255, (40, 48, 3), dtype=np.uint8)
    g = grey(rgb)
    path = tmp_path / "gray16.png"
    Image.fromarray(g.astype(np.uint16) * 257).save(path)
    tab.settings_panel.mode.setCurrentIndex(tab.settings_panel.mode.findData("img2img"))
    assert tab.set_init_image(str(path))
    shown = tab.canvas.image.convertToFormat(tab.canvas.image.Format.Format_Grayscale8)
    pixels = np.frombuffer(shown.constBits(), np.uint8).reshape(40, shown.bytesPerLine())[:, :48]
    assert np.array_equal(pixels, g)


def test_an_image_beyond_pillows_limit_is_a_message_not_a_crash(tab, window, tmp_path):
    huge = png_claiming(tmp_path / "huge.png", 16000, 12000)
    tab.open_dropped(str(huge))
    assert window.message_bar.label.text().startswith("huge.png is too large to open (192 megapixels")
    assert tab.init_path == ""


def test_a_dropped_png_with_a_long_prompt_restores_all_of_it(tab, tmp_path):
    prompt = ", ".join(["a small house by the sea"] * 12) + ", red roof"
    path = a1111_png(tmp_path / "long.png", f"{prompt}\nSteps: 3, Sampler: Euler, CFG scale: 7, Seed: 1, Size: 64x64")
    tab.open_dropped(str(path))
    assert tab.settings_panel.prompt.toPlainText() == prompt
