"""Vision models in the catalog: a chat entry with its projector (mmproj) downloads both files from the (local)
hub as one install, pairs them, counts both in the memory it needs; the projector is never a chat model."""

import pytest

from app.core.chat.jobs import ChatEngine, LoadRequest
from app.core.jobs import JobState, run_sync
from app.core.models import catalog, downloads, registry
from app.core.models.catalog import CatalogEntry, CatalogFile
from app.core.vision.pairing import find_projector, recorded_projector
from tests.fixtures.tiny_vlm import write_tiny_vlm


def test_catalog_has_vision_models_with_projectors():
    vision = [e for e in catalog.entries("chat") if e.vision]
    names = " ".join(e.id for e in vision)
    for family in ("smolvlm-256m", "smolvlm-500m", "qwen2.5-vl-3b", "gemma-3-4b"):
        assert family in names
    for entry in vision:
        assert "mmproj" in entry.projector.file and entry.projector.size_bytes > 0
        for v in entry.files:
            assert entry.memory_bytes(v) > (v.size_bytes + entry.projector.size_bytes) * 1.1
            assert entry.download_bytes(v) == v.size_bytes + entry.projector.size_bytes
            spec = downloads.spec_from_catalog(entry, v)
            assert [i.dest for i in spec.items] == [v.file, entry.projector.file] and spec.projector


def hub_entry(online, folder, name, projector_sha256=None):
    """A catalog entry for a tiny LM + projector served by the local hub; returns (entry, model, mmproj)."""
    model, mmproj = write_tiny_vlm(folder, name=name)
    repo = f"acme/{name}-GGUF"
    online.add_hub_file(repo, model.name, model.read_bytes())
    online.add_hub_file(repo, mmproj.name, mmproj.read_bytes())
    entry = CatalogEntry(name.lower(), name, "chat", "gguf", "mit", True, "",
                         (CatalogFile("F32", model.stat().st_size, file=model.name),), repo=repo,
                         projector=CatalogFile(None, mmproj.stat().st_size, file=mmproj.name,
                                               sha256=projector_sha256))
    return entry, model, mmproj


@pytest.mark.slow
def test_model_and_projector_download_verify_and_pair_as_one_install(online, tmp_path):
    entry, model, mmproj = hub_entry(online, tmp_path / "src", "TinyVLM")
    installed = downloads.download(downloads.spec_from_catalog(entry, entry.files[0]), JobState())
    proj_path = installed.path.parent / "mmproj-TinyVLM-F32.gguf"
    assert installed.id == f"chat/{model.name}" and proj_path.read_bytes() == mmproj.read_bytes()
    assert [m.id for m in registry.installed("chat")] == [installed.id]  # the projector is no chat model
    assert [m.path.name for m in registry.installed("mmproj")] == [proj_path.name]
    assert recorded_projector(installed.path) == proj_path
    assert find_projector(installed.path).path == proj_path
    assert registry.source_of(proj_path)["projector_of"] == model.name
    gets = {r.path.rsplit("/", 1)[-1] for r in online.requests("/cdn/") if r.method == "GET"}
    assert len(gets) == 2  # both files fetched from the hub's CDN

    engine = ChatEngine()
    try:
        info = run_sync(engine.load_job(LoadRequest(str(installed.path), n_ctx=256, threads=2)))
        assert info.extra["projector"] == str(proj_path)
    finally:
        engine.unload()


@pytest.mark.slow
def test_a_projector_failing_its_checksum_installs_nothing(online, tmp_path):
    entry, _model, _mmproj = hub_entry(online, tmp_path / "src", "BadVLM", projector_sha256="0" * 64)
    with pytest.raises(downloads.Quarantined, match="mmproj-BadVLM-F32.gguf"):
        downloads.download(downloads.spec_from_catalog(entry, entry.files[0]), JobState())
    assert registry.installed() == []  # neither the model nor its projector
