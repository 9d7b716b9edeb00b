import itertools

import pytest

from app.core.errors import JobCancelled, UserError
from app.core.jobs import JobState
from app.core.models import quantize, registry
from tests.fixtures.tiny_gguf import write_tiny_llama

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_f32(tmp_path_factory):
    return write_tiny_llama(tmp_path_factory.mktemp("tiny") / "tiny-llama-F32.gguf")


def generate(path, n=4):
    import llama_cpp

    llm = llama_cpp.Llama(str(path), n_ctx=64, n_threads=1, verbose=False)
    tokens = llm.tokenize(b"hello world")
    out = list(itertools.islice(llm.generate(tokens, temp=0.0), n))
    llm.close()
    return out


def test_quantize_q8_0_and_q4_0_load_generate_and_shrink(tiny_f32):
    src_size = tiny_f32.stat().st_size
    assert quantize.source_type(tiny_f32) == "F32"
    assert len(generate(tiny_f32)) == 4
    progress = []
    q8 = quantize.quantize({"src": tiny_f32, "type": "Q8_0", "threads": 1},
                           JobState(on_progress=lambda f, t: progress.append((f, t))))
    q4 = quantize.quantize({"src": tiny_f32, "type": "Q4_0", "threads": 1}, JobState())
    assert q8.id == "chat/tiny-llama-Q8_0.gguf" and q8.quantization == "Q8_0"
    assert q4.id == "chat/tiny-llama-Q4_0.gguf" and q4.quantization == "Q4_0"
    # F32 → Q8_0 stores 34 bytes per 32 weights (≈ 3.8x smaller); Q4_0 18 bytes per 32 (≈ 7x). The vocabulary and
    # the F32 norms do not shrink, so allow some slack.
    assert q8.size_bytes < src_size / 3
    assert q4.size_bytes < q8.size_bytes * 0.7
    for model in (q8, q4):
        assert len(generate(model.path)) == 4
    assert any(f is not None and 0 < f < 1 and "tensor" in t for f, t in progress)
    listed = {m.id: m for m in registry.installed("chat")}
    assert listed[q8.id].source["quantized_from"] == str(tiny_f32.resolve())
    assert "quantized from tiny-llama-F32.gguf" == listed[q4.id].source_text


def test_requantizing_a_quantized_model_is_refused(tiny_f32):
    q8 = quantize.quantize({"src": tiny_f32, "type": "Q8_0", "threads": 1}, JobState())
    with pytest.raises(UserError, match="already quantized \\(Q8_0\\)"):
        quantize.quantize({"src": q8.path, "type": "Q4_0"}, JobState())
    with pytest.raises(UserError, match="already exists"):
        quantize.quantize({"src": tiny_f32, "type": "Q8_0"}, JobState())


def test_bad_inputs(tiny_f32, tmp_path):
    with pytest.raises(UserError, match="Unknown quantization type"):
        quantize.quantize({"src": tiny_f32, "type": "Q9"}, JobState())
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a gguf at all" * 10)
    with pytest.raises(UserError, match="not a readable GGUF"):
        quantize.quantize({"src": junk, "type": "Q4_0"}, JobState())
    safetensors = tmp_path / "model.safetensors"
    safetensors.write_bytes(b"x")
    with pytest.raises(UserError, match="not a .gguf file.*README"):
        quantize.quantize({"src": safetensors, "type": "Q4_0"}, JobState())
    assert registry.installed() == []


def test_cancel_kills_the_quantizer_and_leaves_nothing(tiny_f32):
    class CancelOnStart(JobState):
        def progress(self, fraction, text=""):
            super().progress(fraction, text)
            self.cancel()

    with pytest.raises(JobCancelled):
        quantize.quantize({"src": tiny_f32, "type": "Q4_0", "threads": 1}, CancelOnStart())
    chat = registry.kind_dir("chat")
    assert list(chat.iterdir()) == []
