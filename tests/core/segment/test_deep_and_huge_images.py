"""Segment on a 16-bit greyscale photo and on an image beyond Pillow's pixel limit (issue 12, items 10 and 11),
with the real (tiny) SAM and the real `hearth segment` command."""

import numpy as np
import pytest
from PIL import Image

from app.cli import main
from app.core.segment.cache import EmbeddingCache
from app.core.segment.predictor import Prompts, SegmentEngine
from app.core.segment.images import from_array, load_image
from tests.core.segment.tiny_sam import photo
from tests.fixtures.image_files import grey, png_claiming

DISC = (112, 120)  # centre of the bright disc in tiny_sam.photo() (320 x 240)


@pytest.fixture
def gray16(tmp_path):
    """The test scene as a 16-bit greyscale PNG, and the same picture as an 8-bit one."""
    g = grey(photo())
    deep, flat = tmp_path / "photo_gray16.png", tmp_path / "photo_gray8.png"
    Image.fromarray(g.astype(np.uint16) * 257).save(deep)
    Image.fromarray(g).save(flat)
    return deep, flat


def test_sam_segments_the_16_bit_photo_like_its_8_bit_copy_not_like_a_blank_page(tiny_sam_path, gray16):
    deep, flat = gray16
    engine = SegmentEngine(None, device="cpu")
    engine.load(tiny_sam_path)
    click = Prompts(((*DISC, 1),))

    def mask(image):
        return engine.predict(engine.encode(image), click, multimask=False).mask(0)

    from_16 = mask(load_image(deep))
    assert np.array_equal(from_16, mask(load_image(flat)))
    blank = mask(from_array(np.full((240, 320, 3), 255, np.uint8)))  # what the old loader gave SAM
    assert not np.array_equal(from_16, blank)


def test_cli_segments_a_16_bit_photo_and_reuses_the_8_bit_copys_embedding(tiny_sam_path, gray16, tmp_path, capsys):
    """The embedding cache key is the hash of the decoded 8-bit pixels: the 16-bit file and its 8-bit copy share
    one entry (the second run skips the encoder), and both give the same mask."""
    deep, flat = gray16
    args = ["--model", str(tiny_sam_path), "--point", f"{DISC[0]},{DISC[1]}"]
    assert main(["segment", str(flat), *args, "--out", str(tmp_path / "m8.png")]) == 0
    assert "encoded on" in capsys.readouterr().err
    assert main(["segment", str(deep), *args, "--out", str(tmp_path / "m16.png")]) == 0
    assert "from cache" in capsys.readouterr().err
    assert np.array_equal(np.asarray(Image.open(tmp_path / "m8.png")), np.asarray(Image.open(tmp_path / "m16.png")))
    assert EmbeddingCache().entries()  # the cache is the user's real one under HEARTH_HOME


def test_cli_refuses_an_image_beyond_pillows_limit_with_a_sentence(tiny_sam_path, tmp_path, capsys):
    huge = png_claiming(tmp_path / "panorama.png", 16000, 12000)
    code = main(["segment", str(huge), "--model", str(tiny_sam_path), "--point", "10,10",
                 "--out", str(tmp_path / "m.png")])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err and "DecompressionBomb" not in err
    assert err.strip() == ("error: panorama.png is too large to open (192 megapixels; Hearth opens images up to "
                           "179 megapixels): scale it down in an image editor first.")
    assert not (tmp_path / "m.png").exists()
