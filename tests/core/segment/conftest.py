import pytest

from tests.core.segment.tiny_sam import save_photo, save_tiny_sam


@pytest.fixture(scope="session")
def tiny_sam_path(tmp_path_factory):
    return save_tiny_sam(tmp_path_factory.mktemp("sam") / "renamed-whatever.pth")


@pytest.fixture(scope="session")
def photo_path(tmp_path_factory):
    return save_photo(tmp_path_factory.mktemp("photos") / "photo.png")
