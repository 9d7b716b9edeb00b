import pytest

# tiny_models and tiny_sdxl (used by the UI and CLI tests too) are in tests/fixtures/tiny_sd.py, registered by
# tests/conftest.py.


@pytest.fixture(scope="module")
def engine():
    from app.core.images.jobs import ImageEngine
    from app.core.settings import ImagesSettings

    eng = ImageEngine(ImagesSettings(preview="approx"))
    yield eng
    eng.free()


@pytest.fixture(scope="session")
def tiny_aux(tmp_path_factory):
    """Tiny helper models: TAESD for SD (2x upsampling) and SDXL (4x, so a test can tell which one decoded a
    preview), and two depth estimators with their image processors: Depth Anything and DPT."""
    from tests.core.images import tiny

    root = tmp_path_factory.mktemp("tiny-aux")
    return {"taesd": tiny.build_taesd(root / "taesd", blocks=2),
            "taesdxl": tiny.build_taesd(root / "taesdxl", blocks=3),
            "depth": tiny.build_depth(root / "depth-anything-small"),
            "dpt": tiny.build_dpt(root / "dpt-large")}


@pytest.fixture
def inputs(tmp_path):
    """A starting image (80x96, random) and an inpainting mask (white square) on disk."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    init = tmp_path / "init.png"
    Image.fromarray(rng.integers(0, 255, (80, 96, 3), dtype=np.uint8)).save(init)
    mask = tmp_path / "mask.png"
    m = np.zeros((64, 64), np.uint8)
    m[16:48, 16:48] = 255
    Image.fromarray(m).save(mask)
    return {"init": str(init), "mask": str(mask)}
