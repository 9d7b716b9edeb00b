import pytest

from app.core.errors import UserError
from app.core.jobs import JobState
from app.core.models import convert, hub


def test_search_lists_gguf_repos_and_files(online):
    online.add_hub_file("acme/Alpha-7B-GGUF", "alpha-7b-Q4_K_M.gguf", b"GGUF" + b"a" * 100)
    online.add_hub_file("acme/Alpha-7B-GGUF", "alpha-7b-Q8_0.gguf", b"GGUF" + b"b" * 200)
    online.add_hub_file("acme/Alpha-7B-GGUF", "README.md", b"hi")
    repos = hub.search_gguf("alpha 7b")
    assert [r.id for r in repos] == ["acme/Alpha-7B-GGUF"]
    api_calls = online.requests("/api/models")
    assert any(r.path == "/api/models" for r in api_calls)
    files = hub.gguf_files("acme/Alpha-7B-GGUF")
    assert [(f.path, f.size_bytes, f.quantization) for f in files] == [
        ("alpha-7b-Q4_K_M.gguf", 104, "Q4_K_M"), ("alpha-7b-Q8_0.gguf", 204, "Q8_0")]
    with pytest.raises(UserError, match="no repository acme/missing"):
        hub.gguf_files("acme/missing")


def test_offline_and_unreachable_are_clear(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(hub.NoNetwork, match="No network: offline mode.*keeps working"):
        hub.search_gguf("qwen")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    with pytest.raises(hub.NoNetwork, match="could not reach http://127.0.0.1:9"):
        hub.search_gguf("qwen")
    with pytest.raises(UserError, match="Type something"):
        hub.search_gguf("  ")


def test_fp16_conversion_halves_a_tiny_safetensors(tmp_path):
    import torch
    from safetensors.torch import load_file, save_file

    src = tmp_path / "tiny-unet.safetensors"
    tensors = {"conv.weight": torch.randn(64, 32, 3, 3), "steps": torch.arange(10, dtype=torch.int64),
               "bf": torch.randn(128).to(torch.bfloat16)}
    save_file(tensors, str(src), metadata={"format": "pt"})
    out = convert.to_fp16({"src": src}, JobState())
    assert out.name == "tiny-unet-fp16.safetensors"
    loaded = load_file(str(out))
    assert loaded["conv.weight"].dtype == torch.float16 and loaded["steps"].dtype == torch.int64
    assert loaded["bf"].dtype == torch.float16
    assert torch.allclose(loaded["conv.weight"].float(), tensors["conv.weight"], atol=1e-2)
    assert out.stat().st_size < src.stat().st_size * 0.55
    folder = tmp_path / "pipe"
    (folder / "unet").mkdir(parents=True)
    (folder / "model_index.json").write_text("{}")
    save_file({"w": torch.randn(256, 64)}, str(folder / "unet" / "diffusion_pytorch_model.safetensors"))
    out_dir = convert.to_fp16({"src": folder}, JobState())
    assert (out_dir / "model_index.json").exists()
    assert load_file(str(out_dir / "unet" / "diffusion_pytorch_model.safetensors"))["w"].dtype == torch.float16


def test_fp16_refuses_pickles_and_existing_output(tmp_path):
    ckpt = tmp_path / "model.ckpt"
    ckpt.write_bytes(b"\x80\x04")
    with pytest.raises(UserError, match="pickle checkpoint"):
        convert.to_fp16({"src": ckpt}, JobState())
    assert "convert_hf_to_gguf.py" in convert.GGUF_CONVERSION_HELP
