import pytest
from PIL import Image

from tests.fixtures.tiny_clip import write_colour_clip, write_tiny_clip

COLOURS = {"red": (230, 30, 20), "green": (20, 200, 40), "blue": (30, 40, 220)}


@pytest.fixture(scope="session")
def tiny_clip_path(tmp_path_factory):
    return write_tiny_clip(tmp_path_factory.mktemp("clip") / "tiny-clip")


@pytest.fixture(scope="session")
def colour_clip_path(tmp_path_factory):
    return write_colour_clip(tmp_path_factory.mktemp("clip") / "colour-clip")


@pytest.fixture
def photos(tmp_path):
    """red.jpg, green.png, blue.jpg (different sizes) in tmp_path/photos."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for (name, colour), (ext, size) in zip(COLOURS.items(), ((".jpg", (64, 48)), (".png", (40, 80)),
                                                             (".jpg", (300, 200)))):
        Image.new("RGB", size, colour).save(folder / f"{name}{ext}")
    return folder
