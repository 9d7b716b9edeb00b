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


@pytest.fixture(scope="module")
def qwen(qwen_gguf):
    """The real Qwen2.5-Coder-0.5B-Instruct (its own Jinja chat template), shared by the tests of one module."""
    from app.core.chat.llama import ChatModel

    m = ChatModel.load(qwen_gguf, n_ctx=2048, n_threads=2)
    yield m
    m.close()


@pytest.fixture
def qwen_engine(qwen):
    """A ChatEngine holding the module's Qwen model."""
    from app.core.chat.jobs import ChatEngine

    engine = ChatEngine()
    engine.model = qwen
    yield engine
    engine.model = None
    engine.release_documents()
