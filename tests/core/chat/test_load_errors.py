"""Every bad model file gives a clear message, before llama.cpp can crash or hang on it."""

import pytest

from app.core.chat import gguf_info
from app.core.chat.llama import ChatModel
from app.core.errors import JobCancelled, UserError
from app.core.jobs import JobState
from tests.core.chat import helpers


def test_not_gguf_file(tmp_path):
    path = helpers.not_gguf(tmp_path / "model.gguf")
    with pytest.raises(UserError, match="is not a GGUF model file"):
        ChatModel.load(path, n_ctx=256)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        ChatModel.load(tmp_path / "nope.gguf")
    with pytest.raises(UserError, match="is a folder"):
        ChatModel.load(tmp_path)


@pytest.mark.parametrize("fraction, where", [(0.6, "of the"), (0.003, "ends inside its header")])
def test_truncated_gguf(tmp_path, fraction, where):
    path = helpers.truncated_copy(tmp_path / "cut.gguf", fraction)
    with pytest.raises(UserError, match="is incomplete") as info:
        ChatModel.load(path, n_ctx=256)
    assert where in str(info.value) and "download it again" in str(info.value)


def test_unknown_architecture(tmp_path):
    path = helpers.unknown_architecture(tmp_path / "odd.gguf", "hearthnet")
    assert gguf_info.read(path).architecture == "hearthnet"
    with pytest.raises(UserError, match="'hearthnet'.*does not know"):
        ChatModel.load(path, n_ctx=256)


def test_model_that_does_not_fit_is_refused_before_loading(tmp_path):
    path = helpers.oversized(tmp_path / "huge.gguf", tensor_gb=4096)
    with pytest.raises(UserError, match="will not fit in memory") as info:
        ChatModel.load(path, n_ctx=256)
    assert "smaller quantization" in str(info.value)


def test_real_model_header(gemma):
    info = gguf_info.read(gemma)
    assert info.architecture == "gemma3" and info.chat_template is None
    assert info.context_length == 32768 and info.quantization == "Q4_K_M" and info.block_count == 18
    assert 0 < info.data_size <= info.file_size


def test_load_reports_progress_and_can_be_cancelled(gemma):
    seen = []

    def on_progress(fraction, text):
        seen.append(fraction)
        if fraction is not None and 0.05 < fraction < 0.9:
            state.cancel()

    state = JobState(on_progress=on_progress)
    with pytest.raises(JobCancelled):
        ChatModel.load(gemma, n_ctx=256, state=state)
    assert any(f is not None and 0.05 < f < 1.0 for f in seen)
    assert 1.0 not in seen
