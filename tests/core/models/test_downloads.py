import hashlib

import pytest

from app.core import paths
from app.core.errors import JobCancelled, UserError
from app.core.jobs import JobState
from app.core.models import downloads, registry


def payload(n: int, seed: int) -> bytes:
    return (hashlib.sha256(str(seed).encode()).digest() * (n // 32 + 1))[:n]


class PauseAtHalf(JobState):
    """Cancels (= pauses) the job once the .part file holds half the bytes."""

    def __init__(self, part_glob: str, size: int):
        super().__init__()
        self.part_glob, self.size = part_glob, size

    @property
    def cancelled(self):
        parts = list((paths.models_dir() / ".downloads").rglob(self.part_glob))
        return bool(parts) and parts[0].stat().st_size >= self.size // 2


def test_cut_at_half_resumes_from_offset_and_ends_verified(server, monkeypatch):
    monkeypatch.setenv("HEARTH_DOWNLOAD_RETRIES", "0")  # no automatic retry: the user resumes (see test_download_faults)
    data = payload(3_000_000, 1)
    url = server.add_file("/files/cut-model.gguf", b"GGUF" + data[4:])
    data = b"GGUF" + data[4:]
    sha = hashlib.sha256(data).hexdigest()
    server.cut["/files/cut-model.gguf"] = len(data) // 2
    spec = downloads.spec_from_url(url, sha256=sha)

    with pytest.raises(UserError, match="part already downloaded is kept|closed early|dropped"):
        downloads.download(spec, JobState())
    assert registry.installed() == []  # the half file is never a model
    part = next((paths.models_dir() / ".downloads").rglob("*.part"))
    assert part.stat().st_size == len(data) // 2
    assert downloads.pending()[0].done_bytes == len(data) // 2

    model = downloads.download(downloads.spec_from_url(url, sha256=sha), JobState())
    gets = [r for r in server.requests("/files/cut-model.gguf") if r.method == "GET"]
    assert gets[-1].range == f"bytes={len(data) // 2}-"
    assert model.path.read_bytes() == data
    assert [m.id for m in registry.installed("chat")] == ["chat/cut-model.gguf"]
    assert registry.installed("chat")[0].source["sha256"] == sha
    assert downloads.pending() == []


def test_pause_keeps_partial_and_resume_continues_after_restart(server):
    data = b"GGUF" + payload(4_000_000, 2)[4:]
    url = server.add_file("/files/paused.gguf", data)
    spec = downloads.spec_from_url(url, sha256=hashlib.sha256(data).hexdigest())
    with pytest.raises(JobCancelled):
        downloads.download(spec, PauseAtHalf("paused.gguf.part", len(data)))
    (pend,) = downloads.pending()  # what a restarted app sees
    assert pend.status == downloads.PAUSED and len(data) // 2 <= pend.done_bytes < len(data)
    assert registry.installed() == []
    resumed = downloads.DownloadSpec.from_dict(downloads.read_state(pend.spec.id)["spec"])
    downloads.download(resumed, JobState())
    gets = [r for r in server.requests("/files/paused.gguf") if r.method == "GET"]
    assert gets[-1].range == f"bytes={pend.done_bytes}-"
    assert registry.installed("chat")[0].path.read_bytes() == data


def test_wrong_sha256_is_quarantined_and_not_registered(server):
    data = b"GGUF" + payload(500_000, 3)[4:]
    url = server.add_file("/files/bad.gguf", data)
    spec = downloads.spec_from_url(url, sha256="0" * 64)
    with pytest.raises(UserError, match="Checksum mismatch.*quarantine"):
        downloads.download(spec, JobState())
    assert registry.installed() == []
    quarantined = list((paths.models_dir() / ".quarantine").iterdir())
    assert len(quarantined) == 1 and quarantined[0].read_bytes() == data
    assert downloads.read_state(spec.id)["status"] == downloads.QUARANTINED


def test_not_enough_disk_is_refused_before_downloading(server, monkeypatch):
    data = payload(800_000, 4)
    url = server.add_file("/files/big.pth", data)
    monkeypatch.setattr(downloads, "free_bytes", lambda path: 1000)
    with server.lock:
        server.log.clear()
    with pytest.raises(UserError, match="Not enough disk space"):
        downloads.download(downloads.spec_from_url(url), JobState())
    assert [r for r in server.requests("/files/big.pth") if r.method == "GET"] == []
    assert registry.installed() == []


def test_progress_reports_rate_and_eta(server):
    data = b"GGUF" + payload(6_000_000, 5)[4:]
    url = server.add_file("/files/progress.gguf", data)
    texts = []
    spec = downloads.spec_from_url(url, sha256=hashlib.sha256(data).hexdigest())
    downloads.download(spec, JobState(on_progress=lambda f, t: texts.append((f, t))))
    assert texts[-1][0] == 1.0
    assert any("/s" in t and "left" in t for f, t in texts if f is not None and f < 1), texts


def test_bad_inputs_are_clear(server):
    with pytest.raises(UserError, match="64 hexadecimal"):
        downloads.spec_from_url(server.url + "/files/x.gguf", sha256="abc")
    with pytest.raises(UserError, match="Not a web address"):
        downloads.spec_from_url("ftp://example.org/x.gguf")
    with pytest.raises(UserError, match="cannot tell what kind"):
        downloads.spec_from_url(server.url + "/files/readme.txt")
    with pytest.raises(UserError, match="HTTP 404"):
        downloads.download(downloads.spec_from_url(server.url + "/files/missing.gguf"), JobState())
    with pytest.raises(UserError, match="not in the catalog"):
        downloads.resolve("no-such-model")


def test_cancel_for_good_discards_partial(server):
    data = b"GGUF" + payload(2_000_000, 6)[4:]
    spec = downloads.spec_from_url(server.add_file("/files/discard.gguf", data))
    with pytest.raises(JobCancelled):
        downloads.download(spec, PauseAtHalf("discard.gguf.part", len(data)))
    downloads.discard(spec.id)
    assert downloads.pending() == [] and registry.installed() == []


def test_hub_file_through_huggingface_hub_metadata(online):
    data = b"GGUF" + payload(1_500_000, 7)[4:]
    sha = online.add_hub_file("acme/Tiny-GGUF", "tiny-Q4_K_M.gguf", data)
    spec = downloads.resolve("acme/Tiny-GGUF/tiny-Q4_K_M.gguf")
    model = downloads.download(spec, JobState())
    assert model.path.read_bytes() == data and model.quantization == "Q4_K_M"
    assert model.source["repo"] == "acme/Tiny-GGUF" and model.source["sha256"] == sha
    heads = [r for r in online.requests("/acme/Tiny-GGUF/resolve/") if r.method == "HEAD"]
    assert heads, "huggingface_hub resolved the file with a HEAD on the resolve URL"
    assert [r for r in online.requests(f"/cdn/{sha}") if r.method == "GET"]


def test_hub_sha_from_lfs_etag_catches_corruption(online):
    good = b"GGUF" + payload(300_000, 8)[4:]
    sha = online.add_hub_file("acme/Corrupt-GGUF", "c-Q8_0.gguf", good)
    online.files[f"/cdn/{sha}"] = good[:-10] + b"X" * 10  # the CDN serves different bytes of the same size
    with pytest.raises(UserError, match="Checksum mismatch"):
        downloads.download(downloads.resolve("acme/Corrupt-GGUF/c-Q8_0.gguf"), JobState())
    assert registry.installed() == []


def test_folder_model_from_hub_patterns(online):
    from app.core.models.catalog import CatalogEntry, CatalogFile

    online.add_hub_file("acme/tiny-embed", "modules.json", b"[]")
    online.add_hub_file("acme/tiny-embed", "config.json", b"{}")
    online.add_hub_file("acme/tiny-embed", "model.safetensors", payload(10_000, 9))
    online.add_hub_file("acme/tiny-embed", "pytorch_model.bin", payload(10_000, 10))
    entry = CatalogEntry("tiny-embed", "Tiny", "embedding", "sentence-transformers", "mit", True, "",
                         (CatalogFile("fp32", 20_000, include=("*.json", "*.safetensors")),), repo="acme/tiny-embed")
    model = downloads.download(downloads.spec_from_catalog(entry, entry.files[0]), JobState())
    assert model.id == "embedding/tiny-embed" and model.format == "sentence-transformers"
    assert sorted(p.name for p in model.path.iterdir()) == ["config.json", "model.safetensors", "modules.json"]


@pytest.mark.slow
def test_sam2_folder_from_hub_installs_as_one_model(online, tmp_path):
    """A catalog SAM 2 family folder (a tiny EdgeTAM) is checked at install as a model of its kind: config.json must
    name a SAM-family model, else the files go to quarantine."""
    import json

    from app.core.models.catalog import CatalogEntry, CatalogFile
    from tests.core.segment.tiny_sam2 import save_tiny

    folder = save_tiny(tmp_path / "edgetam", "edgetam")
    config = json.loads((folder / "config.json").read_text())
    for repo, model_type in (("acme/tiny-edgetam", config["model_type"]), ("acme/not-sam", "bert")):
        size = 0
        for file in sorted(folder.iterdir()):
            data = json.dumps({**config, "model_type": model_type}).encode() if file.name == "config.json" \
                else file.read_bytes()
            online.add_hub_file(repo, file.name, data)
            size += len(data)
        entry = CatalogEntry(repo.split("/")[1], repo, "sam", "transformers", "apache-2.0", True, "",
                             (CatalogFile("fp32", size, include=("*.json", "*.safetensors")),), repo=repo)
        spec = downloads.spec_from_catalog(entry, entry.files[0])
        if model_type == "bert":
            with pytest.raises(downloads.Quarantined, match="not Segment Anything"):
                downloads.download(spec, JobState())
        else:
            model = downloads.download(spec, JobState())
            assert (model.id, model.format) == ("sam/tiny-edgetam", "transformers")
    assert [m.id for m in registry.installed()] == ["sam/tiny-edgetam"]


def test_offline_download_is_a_clear_no_network_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UserError, match="No network"):
        downloads.download(downloads.resolve("qwen2.5-0.5b-instruct"), JobState())
    assert registry.installed() == []


def test_local_hub_speaks_the_protocol_hf_hub_download_expects(online, tmp_path):
    """The test endpoint is faithful: huggingface_hub's own hf_hub_download gets the same bytes from it (so the
    metadata path Hearth uses is exercised against a realistic server)."""
    from huggingface_hub import hf_hub_download

    data = b"GGUF" + payload(200_000, 11)[4:]
    online.add_hub_file("acme/Fidelity-GGUF", "f-Q4_0.gguf", data)
    path = hf_hub_download("acme/Fidelity-GGUF", "f-Q4_0.gguf", local_dir=tmp_path / "hf", endpoint=online.url)
    assert open(path, "rb").read() == data


@pytest.mark.slow
def test_catalog_url_entry_trusts_the_server_size_not_the_catalog_estimate(server):
    from app.core.models import catalog
    from tests.core.models.files import sam_bytes

    data = sam_bytes()  # the catalog has no SHA-256 for SAM: the checkpoint's own structure and shapes are checked
    url = server.add_file("/segment_anything/sam_vit_b_01ec64.pth", data)
    entry, variant = catalog.find("sam-vit-b")
    assert variant.size_bytes != len(data)
    fake = catalog.CatalogEntry(**{**entry.__dict__, "url": url})
    model = downloads.download(downloads.spec_from_catalog(fake, variant), JobState())
    assert model.id == "sam/sam_vit_b_01ec64.pth" and model.size_bytes == len(data)
    assert model.source["catalog_id"] == "sam-vit-b"
