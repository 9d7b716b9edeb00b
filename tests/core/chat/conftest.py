import pytest

from tests.core.chat.helpers import gemma_path


def loaded(path, n_ctx: int):
    """A real ChatModel for a module's tests (closed afterwards)."""
    from app.core.chat.llama import ChatModel

    m = ChatModel.load(path, n_ctx=n_ctx, n_threads=2)
    yield m
    m.close()


def holding(model):
    """A ChatEngine holding `model` (as if it had loaded it); the model is closed by its own fixture."""
    from app.core.chat.jobs import ChatEngine

    engine = ChatEngine()
    engine.model = model
    yield engine
    engine.model = None
    engine.release_documents()


@pytest.fixture(scope="session")
def gemma():
    return gemma_path()


@pytest.fixture(scope="module")
def model(gemma):
    """The real Gemma-3-270M, small context: shared by the tests of one module."""
    yield from loaded(gemma, 512)


@pytest.fixture
def engine(model):
    """A ChatEngine holding the module's Gemma."""
    yield from holding(model)


@pytest.fixture(scope="module")
def qwen(qwen_gguf):
    """The real Qwen2.5-Coder-0.5B-Instruct (its own Jinja chat template), shared by the tests of one module."""
    yield from loaded(qwen_gguf, 2048)


@pytest.fixture
def qwen_engine(qwen):
    """A ChatEngine holding the module's Qwen model."""
    yield from holding(qwen)
