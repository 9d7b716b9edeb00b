import os

import pytest

from app.core import paths
from app.core.errors import UserError
from app.core.models import registry


from tests.core.models.files import gguf_bytes, safetensors_bytes


def test_import_copy_list_remove(tmp_path):
    src = tmp_path / "my-model-Q5_K_M.gguf"
    src.write_bytes(gguf_bytes())
    model = registry.import_model(src)
    assert model.id == "chat/my-model-Q5_K_M.gguf" and model.quantization == "Q5_K_M"
    assert model.path.read_bytes() == src.read_bytes() and not model.is_link
    (listed,) = registry.installed("chat")
    assert listed.source["imported_from"] == str(src) and "copied from" in listed.source_text
    assert listed.size_bytes == src.stat().st_size
    registry.remove(listed.id)
    assert registry.installed() == [] and src.exists()
    assert "my-model" not in (paths.models_dir() / registry.SOURCES_FILE).read_text()


def test_import_link_and_remove_keeps_target(tmp_path):
    src = tmp_path / "linked.gguf"
    src.write_bytes(gguf_bytes())
    model = registry.import_model(src, link=True)
    assert model.is_link and registry.installed("chat")[0].source["linked"] is True
    registry.remove("linked.gguf")
    assert src.exists() and registry.installed() == []


def test_import_folder_and_explicit_kind(tmp_path):
    folder = tmp_path / "my-embedder"
    folder.mkdir()
    (folder / "modules.json").write_text("[]")
    (folder / "model.safetensors").write_bytes(safetensors_bytes())
    model = registry.import_model(folder)
    assert model.id == "embedding/my-embedder" and model.format == "sentence-transformers"
    sam = tmp_path / "sam_vit_b.pth"
    sam.write_bytes(b"\x80\x02" + b"0" * 50)  # not a checkpoint at all: refused (tests/core/models/test_validate.py)
    with pytest.raises(UserError, match="Refused to open sam_vit_b.pth|not a readable PyTorch checkpoint"):
        registry.import_model(sam)


def test_bad_imports_are_refused_clearly_and_nothing_is_left(tmp_path):
    fake = tmp_path / "fake.gguf"
    fake.write_text("this is a text file")
    with pytest.raises(UserError, match="not a GGUF file"):
        registry.import_model(fake)
    bad_st = tmp_path / "bad.safetensors"
    bad_st.write_bytes(b"\xff" * 64)
    with pytest.raises(UserError, match="not a valid .safetensors"):
        registry.import_model(bad_st)
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    with pytest.raises(UserError, match="not a model Hearth recognises"):
        registry.import_model(other)
    with pytest.raises(UserError, match="does not exist"):
        registry.import_model(tmp_path / "missing.gguf")
    with pytest.raises(UserError, match="Unknown model kind"):
        registry.import_model(fake, kind="spaceship")
    good = tmp_path / "twice.gguf"
    good.write_bytes(gguf_bytes())
    registry.import_model(good)
    with pytest.raises(UserError, match="already installed"):
        registry.import_model(good)
    assert [m.id for m in registry.installed()] == ["chat/twice.gguf"]
    assert not [p for p in registry.kind_dir("chat").iterdir() if p.name.startswith(".")]
    with pytest.raises(UserError, match="No installed model"):
        registry.remove("nothing-here")


def test_partials_hidden_and_broken_links_skipped(tmp_path):
    chat = registry.kind_dir("chat")
    (chat / "half.gguf.part").write_bytes(b"GGUF")
    (paths.models_dir() / ".downloads" / "x").mkdir(parents=True)
    (paths.models_dir() / ".downloads" / "x" / "a.gguf").write_bytes(b"GGUF")
    target = tmp_path / "gone.gguf"
    target.write_bytes(b"GGUF")
    os.symlink(target, chat / "gone.gguf")
    target.unlink()
    assert registry.installed() == []


def test_old_api_still_works():
    path = registry.kind_dir("diffusion")
    assert path == paths.models_dir() / "diffusion"
    (path / "m.safetensors").write_bytes(b"x")
    (m,) = registry.scan()
    assert (m.path, m.kind, m.name, m.size_bytes, m.format, m.quantization) == \
        (path / "m.safetensors", "diffusion", "m", 1, "safetensors", None)
    assert m.source == {} and m.source_text == "added by hand"
