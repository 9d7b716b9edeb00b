"""The Segment tab with the inputs of issue 12: a 16-bit greyscale photo (opened, pasted, in a folder) and an
image beyond Pillow's pixel limit. Real Qt widgets, real jobs, the tiny real SAM."""

import numpy as np
import pytest
from PIL import Image
from PySide6.QtGui import QGuiApplication, QImage

from tests.core.segment.tiny_sam import photo
from tests.fixtures.image_files import grey, png_claiming
from tests.ui.segment.test_segment_tab import Ctx, make_tab, ready, settled, tiny_bytes  # noqa: F401 - fixtures

pytestmark = pytest.mark.timeout(120)

DISC = (112, 120)


@pytest.fixture
def gray16(tmp_path):
    g = grey(photo())
    path = tmp_path / "photo_gray16.png"
    Image.fromarray(g.astype(np.uint16) * 257).save(path)
    return path, np.repeat(g[:, :, None], 3, axis=2)


def test_a_16_bit_photo_opens_as_its_picture_and_segments(qtbot, make_tab, gray16):
    path, expected = gray16
    tab = make_tab()
    tab.open_image(path)
    ready(qtbot, tab)
    assert np.array_equal(tab.opened.image.rgb, expected)  # not the white page the old loader made
    tab.add_point(*DISC)
    settled(qtbot, tab)
    assert tab.session.active.prediction is not None and tab.exports.mask_button.isEnabled()


def test_a_pasted_16_bit_image_is_scaled_too(qtbot, make_tab, gray16):
    _path, expected = gray16
    g16 = (expected[:, :, 0].astype(np.uint16) * 257).copy()
    image = QImage(g16.data, 320, 240, 640, QImage.Format.Format_Grayscale16).copy()
    QGuiApplication.clipboard().setImage(image)
    tab = make_tab()
    tab.paste()
    ready(qtbot, tab)
    assert np.abs(tab.opened.image.rgb.astype(int) - expected).max() <= 1


def test_a_folder_with_a_deep_and_a_huge_image(qtbot, make_tab, gray16, tmp_path):
    path, expected = gray16
    folder = tmp_path / "scans"
    folder.mkdir()
    path.rename(folder / "a.png")
    png_claiming(folder / "b.png", 16000, 12000)
    tab = make_tab()
    tab.settings.preencode = 1  # the huge one is skipped quietly in the background…
    tab.open_folder(folder)
    ready(qtbot, tab)
    assert np.array_equal(tab.opened.image.rgb, expected)
    tab.next_button.click()  # …and explained when the user opens it
    qtbot.waitUntil(lambda: bool(tab.holder.messages), timeout=10000)
    assert tab.holder.messages[-1] == ("b.png is too large to open (192 megapixels; Hearth opens images up to 179 "
                                       "megapixels): scale it down in an image editor first.")
    assert tab.status.text() == tab.holder.messages[-1]
