import pytest

from tests.core.chat.helpers import gemma_path


@pytest.fixture(scope="session")
def gemma():
    return gemma_path()


@pytest.fixture(scope="module")
def model(gemma):
    """The real Gemma-3-270M, small context: shared by the tests of one module."""
    from app.core.chat.llama import ChatModel

    m = ChatModel.load(gemma, n_ctx=512, n_threads=2)
    yield m
    m.close()


@pytest.fixture
def engine(model):
    """A ChatEngine holding the module's model (as if it had loaded it)."""
    from app.core.chat.jobs import ChatEngine

    engine = ChatEngine()
    engine.model = model
    yield engine
    engine.model = None  # the module's model is closed by its fixture
    engine.release_documents()
