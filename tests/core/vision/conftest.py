import pytest

from tests.fixtures.tiny_vlm import write_tiny_vlm


@pytest.fixture(scope="session")
def tiny_vlm(tmp_path_factory):
    """(model, mmproj): a tiny random LM with a chat template and its LLaVA-style projector, side by side."""
    return write_tiny_vlm(tmp_path_factory.mktemp("vlm"))
