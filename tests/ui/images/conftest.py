from tests.core.images.conftest import tiny_models  # noqa: F401 - shared session fixture
