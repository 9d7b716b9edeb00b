"""Projector headers, model/projector pairing and the width check — real GGUF files, no model loaded."""

import shutil

import pytest

from app.core.errors import UserError
from app.core.vision import pairing
from app.core.vision.projector import check_pair, read_projector
from tests.fixtures.tiny_gguf import write_tiny_llama
from tests.fixtures.tiny_vlm import write_tiny_mmproj


def test_projector_header_is_read(tiny_vlm):
    model, mmproj = tiny_vlm
    info = read_projector(mmproj)
    assert (info.projector_type, info.embedding_size, info.image_size, info.input_side) == ("mlp", 128, 32, 32)
    assert check_pair(model, mmproj).path == mmproj


def test_language_model_is_not_a_projector_and_back(tiny_vlm):
    model, mmproj = tiny_vlm
    with pytest.raises(UserError, match=r"tiny-vlm-F32.gguf is a language model \(llama\), not an image projector"):
        read_projector(model)
    with pytest.raises(UserError, match="is an image projector .mmproj., not a language model"):
        check_pair(mmproj, mmproj)


def test_projector_of_another_model_is_refused(tiny_vlm, tmp_path):
    model, _ = tiny_vlm
    other = write_tiny_mmproj(tmp_path / "mmproj-other.gguf", n_embd_text=96)
    with pytest.raises(UserError) as err:
        check_pair(model, other)
    text = str(err.value)
    assert "96-wide" in text and "128-wide" in text and "different models" in text


def test_input_side_follows_the_projector_kind(tmp_path):
    import gguf

    path = tmp_path / "mmproj-tiles.gguf"
    w = gguf.GGUFWriter(str(path), "clip")
    w.add_type(gguf.GGUFType.MMPROJ)
    w.add_clip_projector_type("idefics3")
    w.add_vision_image_size(512)
    w.add_vision_preproc_image_size(1536)
    w.add_vision_projection_dim(576)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    info = read_projector(path)
    assert (info.projector_type, info.input_side, info.embedding_size) == ("idefics3", 1536, 576)


def test_projector_found_beside_the_model(tiny_vlm, tmp_path):
    model, mmproj = tiny_vlm
    assert pairing.find_projector(model).path == mmproj
    # several candidates: the one that fits the model's width wins over a closer name
    folder = tmp_path / "m"
    folder.mkdir()
    shutil.copy(model, folder / "tiny-vlm-F32.gguf")
    write_tiny_mmproj(folder / "mmproj-tiny-vlm-F32-wrong.gguf", n_embd_text=96)
    write_tiny_mmproj(folder / "mmproj-model-f16.gguf", n_embd_text=128)
    (folder / "mmproj-broken.gguf").write_bytes(b"GGUF\x03\x00")
    assert pairing.find_projector(folder / "tiny-vlm-F32.gguf").path.name == "mmproj-model-f16.gguf"


def test_recorded_projector_wins_and_text_only_model_is_told(tiny_vlm, tmp_path):
    model, mmproj = tiny_vlm
    text_model = write_tiny_llama(tmp_path / "plain-F32.gguf")
    assert pairing.find_projector(text_model) is None
    with pytest.raises(UserError, match=r"This model reads text only \(plain-F32.gguf: no mmproj projector"):
        pairing.require_projector(text_model)
    pairing.record_projector(text_model, mmproj)
    assert pairing.find_projector(text_model).path == mmproj
    mmproj_copy = tmp_path / "elsewhere.gguf"
    shutil.copy(mmproj, mmproj_copy)
    pairing.record_projector(text_model, mmproj_copy)
    assert pairing.recorded_projector(text_model) == mmproj_copy
    mmproj_copy.unlink()  # a recorded projector that was deleted is ignored
    assert pairing.find_projector(text_model) is None


def test_importing_a_vision_model_brings_its_projector(tiny_vlm, tmp_path, monkeypatch):
    """`hearth models import` / Import… of a GGUF with its mmproj beside it installs both, paired (as a catalog
    download does); the projector is never listed as a chat model."""
    from app.core.jobs import JobState
    from app.core.models import jobs, registry
    from app.core.vision import pairing

    monkeypatch.setenv("HEARTH_HOME", str(tmp_path / "home"))
    model_file, projector_file = tiny_vlm
    model = jobs.import_model(jobs.ImportRequest(str(model_file)), JobState())
    assert [m.name for m in registry.installed("chat")] == [model.name]
    (projector,) = registry.installed("mmproj")
    assert projector.path.name == projector_file.name and projector.path != projector_file
    assert pairing.find_projector(model.path).path == projector.path
