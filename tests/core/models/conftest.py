import pytest


@pytest.fixture
def online(server, monkeypatch):
    """Point Hearth's hub access at the local server, with offline mode off (conftest turns it on by default)."""
    import huggingface_hub.constants as hf_constants

    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    with server.lock:
        server.log.clear()
    return server
