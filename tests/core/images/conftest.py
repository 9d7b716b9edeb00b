import pytest


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    """Tiny SD parts with random weights: a diffusers folder, the same weights as a single LDM-layout file,
    a ControlNet and a tokenizer. Built once per test session."""
    import torch

    from tests.core.images import tiny

    # Tiny convolutions on a shared 2-core machine: one thread avoids OpenMP contention (13x faster here).
    torch.set_num_threads(1)
    return tiny.build_all(tmp_path_factory.mktemp("tiny-sd"))


@pytest.fixture(scope="module")
def engine():
    from app.core.images.engine import ImageEngine
    from app.core.settings import ImagesSettings

    eng = ImageEngine(ImagesSettings(preview="approx"))
    yield eng
    eng.free()
