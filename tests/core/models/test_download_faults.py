"""Downloads against a 127.0.0.1 server that misbehaves as real ones do (tests/fixtures/http_server.py): dropped and
stalled connections, 5xx answers, a 200 or a shifted 206 to a Range request, no Content-Length, a file that changes
between attempts, HTML error pages, redirects, gzip, a full disk. The real download code, real model files."""

import hashlib
import pickle
import re
import resource
import signal

import pytest

from app.core import paths
from app.core.errors import JobCancelled, UserError
from app.core.jobs import JobState
from app.core.models import downloads, registry
from tests.core.models.files import gguf_bytes, safetensors_bytes


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    """Short waits so the tests are fast; the policy is otherwise the shipped one (5 retries)."""
    monkeypatch.setenv("HEARTH_DOWNLOAD_BACKOFF_S", "0.01")
    monkeypatch.setenv("HEARTH_DOWNLOAD_STALL_S", "0.5")
    monkeypatch.delenv("HEARTH_DOWNLOAD_RETRIES", raising=False)


class Recorder(JobState):
    def __init__(self):
        super().__init__(on_progress=lambda f, t: self.texts.append(t))
        self.texts: list[str] = []


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def part_sizes() -> list[int]:
    return [p.stat().st_size for p in (paths.models_dir() / ".downloads").rglob("*.part")]


def serve(server, path: str, data: bytes, *faults: dict) -> str:
    """Serve `data` at `path`, misbehaving in these ways on the coming GETs; returns the URL."""
    url = server.add_file(path, data)
    server.misbehave(path, *faults)
    return url


def ranges(server, path) -> list:
    return [r.range for r in server.gets(path)]


# ---- healing ---------------------------------------------------------------------------------------------------
def test_dropped_connections_heal_by_themselves_from_the_byte_reached(server):
    data = gguf_bytes(1)
    n = len(data)
    path = "/heal/drops-Q8_0.gguf"
    url = serve(server, path, data, {"cut": n // 4}, {"cut": n // 2}, {"cut": 3 * n // 4})
    state = Recorder()
    model = downloads.download(downloads.spec_from_url(url, sha256=sha(data)), state)
    assert model.path.read_bytes() == data and model.id == "chat/drops-Q8_0.gguf"
    assert ranges(server, path) == [None, f"bytes={n // 4}-", f"bytes={n // 2}-", f"bytes={3 * n // 4}-"]
    assert any(re.search(r"connection lost, retrying in \d+ s \(1/5\)", t) for t in state.texts), state.texts
    assert any("(3/5)" in t for t in state.texts) and not any("(4/5)" in t for t in state.texts)
    assert downloads.pending() == []


def test_more_drops_than_retries_fail_once_keep_the_part_and_resume(server, monkeypatch):
    monkeypatch.setenv("HEARTH_DOWNLOAD_RETRIES", "2")
    data = gguf_bytes(2)
    n = len(data)
    path = "/heal/flaky.gguf"
    url = serve(server, path, data, {"cut": n // 10}, {"cut": 2 * n // 10}, {"cut": 3 * n // 10})
    with pytest.raises(UserError, match=r"gave up after 2 retries.*part already downloaded .* is kept; resume"):
        downloads.download(downloads.spec_from_url(url, sha256=sha(data)), JobState())
    assert registry.installed() == [] and part_sizes() == [3 * n // 10]
    (pend,) = downloads.pending()
    assert pend.status == downloads.FAILED
    model = downloads.download(downloads.spec_from_url(url, sha256=sha(data)), JobState())
    assert ranges(server, path)[-1] == f"bytes={3 * n // 10}-" and model.path.read_bytes() == data


def test_a_stalled_transfer_reconnects(server):
    data = gguf_bytes(3)
    n = len(data)
    path = "/heal/stall.gguf"
    url = serve(server, path, data, {"stall": n // 2, "for": 30})
    state = Recorder()
    model = downloads.download(downloads.spec_from_url(url, sha256=sha(data)), state)
    assert model.path.read_bytes() == data
    assert ranges(server, path) == [None, f"bytes={n // 2}-"]
    assert any("no data for 0.5 s, retrying in" in t for t in state.texts), state.texts


def test_server_errors_are_retried_and_retry_after_is_honoured(server):
    data = gguf_bytes(4)
    path = "/heal/busy.gguf"
    url = serve(server, path, data, {"status": 503, "retry_after": "0"}, {"status": 502}, {"status": 429})
    state = Recorder()
    model = downloads.download(downloads.spec_from_url(url, sha256=sha(data)), state)
    assert model.path.read_bytes() == data and len(server.gets(path)) == 4
    assert any("server error 503, retrying in 0 s (1/5)" in t for t in state.texts), state.texts
    assert any("server error 429" in t for t in state.texts)


def test_a_refused_file_is_not_retried(server):
    with pytest.raises(UserError, match="HTTP 404"):
        downloads.download(downloads.spec_from_url(server.url + "/heal/missing.gguf"), JobState())
    assert len(server.requests("/heal/missing.gguf")) == 1


# ---- what is appended ------------------------------------------------------------------------------------------
def cut_in_half_then(server, path: str, data: bytes, then: dict) -> None:
    """Serve `data` cut at its middle, then answer the resume request as `then` says; the download (no SHA-256:
    the file's structure is checked) must install exactly `data` after asking for the second half once."""
    url = serve(server, path, data, {"cut": len(data) // 2}, then)
    model = downloads.download(downloads.spec_from_url(url), JobState())
    assert ranges(server, path)[:2] == [None, f"bytes={len(data) // 2}-"]
    assert model.path.read_bytes() == data


def test_a_200_to_a_range_request_replaces_the_part_and_is_never_appended(server):
    cut_in_half_then(server, "/resume/ignores-range.gguf", gguf_bytes(5), {"ignore_range": True, "content_range": True})


def test_a_206_from_another_byte_restarts_from_zero(server):
    data = gguf_bytes(6)
    n = len(data)
    path = "/resume/shifted.gguf"
    url = serve(server, path, data, {"cut": n // 2}, {"shift": 1000})
    state = Recorder()
    model = downloads.download(downloads.spec_from_url(url), state)
    assert ranges(server, path) == [None, f"bytes={n // 2}-", None]
    assert model.path.read_bytes() == data
    assert any(f"sent bytes from {n // 2 - 1000} when asked for bytes from {n // 2}" in t for t in state.texts)


def test_a_file_changed_on_the_server_is_fetched_again_from_zero(server, monkeypatch):
    """If-Range with the ETag the part was started from: the server sends the new file whole (200)."""
    monkeypatch.setenv("HEARTH_DOWNLOAD_RETRIES", "0")
    old, new = gguf_bytes(7), gguf_bytes(8)
    assert len(old) == len(new) and old != new
    n = len(old)
    path = "/resume/changed.gguf"
    url = serve(server, path, old, {"cut": n // 2})
    with pytest.raises(UserError, match="not retried"):
        downloads.download(downloads.spec_from_url(url), JobState())
    server.files[path] = new  # a new version, same size, new ETag
    model = downloads.download(downloads.spec_from_url(url), JobState())  # a fresh spec, as `hearth models download`
    (last,) = server.gets(path)[1:]
    assert last.range == f"bytes={n // 2}-" and last.if_range == f'"{sha(old)}"'
    assert model.path.read_bytes() == new


def test_a_server_that_ignores_if_range_is_caught_by_its_etag(server, monkeypatch):
    monkeypatch.setenv("HEARTH_DOWNLOAD_RETRIES", "0")
    old, new = gguf_bytes(9), gguf_bytes(10)
    n = len(old)
    path = "/resume/changed-no-if-range.gguf"
    url = serve(server, path, old, {"cut": n // 2})
    with pytest.raises(UserError):
        downloads.download(downloads.spec_from_url(url), JobState())
    server.files[path] = new
    server.honor_if_range = False
    try:
        state = Recorder()
        model = downloads.download(downloads.spec_from_url(url), state)
    finally:
        server.honor_if_range = True
    assert ranges(server, path) == [None, f"bytes={n // 2}-", None]
    assert model.path.read_bytes() == new
    assert any("changed on the server" in t for t in state.texts)


def test_a_checksum_mismatch_after_resuming_downloads_once_more_from_zero(server):
    """A server that changed the file without changing its ETag: the stitched file fails its SHA-256, so Hearth
    fetches it whole once before blaming the file."""
    old, new = gguf_bytes(11), gguf_bytes(12)
    n = len(new)
    path = "/resume/same-etag.gguf"
    url = server.add_file(path, new)
    server.etags[path] = '"v1"'
    server.misbehave(path, {"cut": n // 2, "data": old})
    state = Recorder()
    model = downloads.download(downloads.spec_from_url(url, sha256=sha(new)), state)
    assert ranges(server, path) == [None, f"bytes={n // 2}-", None]
    assert model.path.read_bytes() == new
    assert any("failed its check after resuming" in t for t in state.texts)
    assert not (paths.models_dir() / ".quarantine").exists() or not list((paths.models_dir() / ".quarantine").iterdir())


class CancelWhenComplete(JobState):
    def __init__(self, size):
        super().__init__()
        self.size = size

    @property
    def cancelled(self):
        return self.size in part_sizes()


def test_416_on_a_complete_part_installs_it(server):
    data = gguf_bytes(13)
    n = len(data)
    path = "/resume/complete.gguf"
    url = server.add_file(path, data)
    server.no_head.add(path)  # no HEAD: Hearth does not know the size before the GET
    with pytest.raises(JobCancelled):
        downloads.download(downloads.spec_from_url(url), CancelWhenComplete(n))
    assert part_sizes() == [n]
    model = downloads.download(downloads.spec_from_url(url), JobState())
    assert ranges(server, path)[-1] == f"bytes={n}-" and model.path.read_bytes() == data


def test_a_bare_416_on_a_part_whose_structure_is_whole_installs_it(server):
    """A 416 without Content-Range and no length known: the part's own header decides."""
    data = gguf_bytes(25)
    n = len(data)
    path = "/resume/bare-416.gguf"
    url = server.add_file(path, data)
    server.no_head.add(path)
    with pytest.raises(JobCancelled):
        downloads.download(downloads.spec_from_url(url), CancelWhenComplete(n))
    server.misbehave(path, {"status": 416})
    model = downloads.download(downloads.spec_from_url(url), JobState())
    assert ranges(server, path) == [None, f"bytes={n}-"] and model.path.read_bytes() == data


def test_416_for_a_part_longer_than_the_file_restarts_from_zero(server):
    big, small = gguf_bytes(14, n_embd=256), gguf_bytes(15)
    path = "/resume/shrunk.gguf"
    url = server.add_file(path, big)
    server.no_head.add(path)
    with pytest.raises(JobCancelled):
        downloads.download(downloads.spec_from_url(url), CancelWhenComplete(len(big)))
    server.files[path] = small
    server.honor_if_range = False  # (one that does sends the new file whole: see test_a_file_changed_on_the_server)
    try:
        model = downloads.download(downloads.spec_from_url(url), JobState())
    finally:
        server.honor_if_range = True
    assert ranges(server, path)[-2:] == [f"bytes={len(big)}-", None]
    assert model.path.read_bytes() == small


# ---- unknown length --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, data", [("no-length.gguf", gguf_bytes(16)),
                                        ("no-length.safetensors", safetensors_bytes(16, 512))])
def test_no_content_length_and_closed_half_way_is_resumed_by_the_file_header(server, name, data):
    path = f"/unknown/{name}"
    server.no_length.add(path)
    cut_in_half_then(server, path, data, {})
    assert len(server.gets(path)) == 2


def test_no_content_length_and_no_range_support_never_installs_half_a_file(server):
    data = gguf_bytes(17)
    n = len(data)
    path = "/unknown/no-ranges.gguf"
    server.no_length.add(path)
    url = serve(server, path, data, *[{"cut": n // 2, "ignore_range": True}] * 6)
    with pytest.raises(UserError, match=r"closed early .*incomplete.*gave up after 5 retries"):
        downloads.download(downloads.spec_from_url(url), JobState())
    assert registry.installed() == [] and part_sizes() == [n // 2]
    model = downloads.download(downloads.spec_from_url(url), JobState())  # the server behaves again
    assert model.path.read_bytes() == data


def test_no_content_length_and_a_file_that_cannot_be_checked_is_not_installed(server):
    data = pickle.dumps({"weights": list(range(20_000))}, protocol=2)  # a legacy pickle checkpoint: no structure
    path = "/unknown/old-style.ckpt"
    url = server.add_file(path, data)
    server.no_length.add(path)
    with pytest.raises(UserError, match="cannot confirm that old-style.ckpt is complete.*quarantine"):
        downloads.download(downloads.spec_from_url(url), JobState())
    assert registry.installed() == []
    server.no_length.discard(path)  # with a Content-Length the same bytes are known to be complete
    model = downloads.download(downloads.spec_from_url(url), JobState())
    assert model.id == "diffusion/old-style.ckpt" and model.path.read_bytes() == data


# ---- other answers ---------------------------------------------------------------------------------------------
def test_an_html_error_page_with_200_is_never_installed_and_keeps_the_part(server, monkeypatch):
    monkeypatch.setenv("HEARTH_DOWNLOAD_RETRIES", "0")
    data = gguf_bytes(18)
    n = len(data)
    path = "/pages/model.gguf"
    url = serve(server, path, data, {"html": True})
    with pytest.raises(UserError, match="sent a web page instead of model.gguf"):
        downloads.download(downloads.spec_from_url(url), JobState())
    assert registry.installed() == [] and part_sizes() in ([], [0])
    server.misbehave(path, {"cut": n // 2}, {"html": True})
    with pytest.raises(UserError, match="not retried"):
        downloads.download(downloads.spec_from_url(url), JobState())
    with pytest.raises(UserError, match="web page"):
        downloads.download(downloads.spec_from_url(url), JobState())
    assert part_sizes() == [n // 2]  # the good half is kept
    assert downloads.download(downloads.spec_from_url(url), JobState()).path.read_bytes() == data


def test_redirects_are_followed_and_resumed(server):
    data = gguf_bytes(19)
    n = len(data)
    server.add_file("/storage/blob-19", data)
    server.redirects["/moved/model-Q4_0.gguf"] = "/storage/blob-19"
    server.misbehave("/storage/blob-19", {"cut": n // 3})
    model = downloads.download(downloads.spec_from_url(server.url + "/moved/model-Q4_0.gguf"), JobState())
    assert model.id == "chat/model-Q4_0.gguf" and model.path.read_bytes() == data
    assert ranges(server, "/storage/blob-19") == [None, f"bytes={n // 3}-"]


def test_gzip_content_encoding_is_decoded_and_a_cut_gzip_body_starts_again(server):
    data = gguf_bytes(20)
    path = "/gzip/model.gguf"
    url = serve(server, path, data, {"gzip": True, "cut": 5000}, {"gzip": True})
    model = downloads.download(downloads.spec_from_url(url, sha256=sha(data)), JobState())
    assert model.path.read_bytes() == data
    assert ranges(server, path) == [None, None]  # a compressed body cannot be continued: fetched whole again


def test_a_full_disk_is_a_clear_error_and_the_part_is_kept(server):
    """The kernel refuses to write past RLIMIT_FSIZE (EFBIG), as a FAT32 drive does past 4 GB."""
    data = gguf_bytes(21, n_embd=256)
    path = "/disk/big.gguf"
    url = server.add_file(path, data)
    limit = len(data) // 3
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        with pytest.raises(UserError, match=r"too large for the file system .* already downloaded are kept") as err:
            downloads.download(downloads.spec_from_url(url, sha256=sha(data)), JobState())
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)
    assert "Traceback" not in str(err.value) and registry.installed() == [] and part_sizes() == [limit]
    model = downloads.download(downloads.spec_from_url(url, sha256=sha(data)), JobState())
    assert ranges(server, path)[-1] == f"bytes={limit}-" and model.path.read_bytes() == data


# ---- the hub and folder models ---------------------------------------------------------------------------------
def test_hub_download_heals_a_failed_lookup_and_cdn_drops(online):
    data = gguf_bytes(22)
    n = len(data)
    digest = online.add_hub_file("acme/Heal-GGUF", "heal-Q8_0.gguf", data)
    online.misbehave("/acme/Heal-GGUF/resolve/main/heal-Q8_0.gguf", {"method": "HEAD", "status": 503})
    online.misbehave(f"/cdn/{digest}", {"cut": n // 3}, {"stall": 2 * n // 3, "for": 30})
    model = downloads.download(downloads.resolve("acme/Heal-GGUF/heal-Q8_0.gguf"), JobState())
    assert model.path.read_bytes() == data and model.source["sha256"] == digest
    assert ranges(online, f"/cdn/{digest}") == [None, f"bytes={n // 3}-", f"bytes={2 * n // 3}-"]
    heads = [r for r in online.requests("/acme/Heal-GGUF/resolve/") if r.method == "HEAD"]
    assert len(heads) >= 4  # the failed lookup, then the CDN link resolved again before each retry


def _sd_entry(include):
    from app.core.models.catalog import CatalogEntry, CatalogFile

    return CatalogEntry("tiny-sd", "Tiny SD", "diffusion", "diffusers", "mit", True, "",
                        (CatalogFile("fp32", 100_000, include=include),), repo="acme/tiny-sd")


def test_a_folder_model_is_installed_only_when_every_component_is_there(online, tmp_path):
    from tests.core.models.files import diffusers_folder

    folder = diffusers_folder(tmp_path / "tiny-sd")
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        online.add_hub_file("acme/tiny-sd", file.relative_to(folder).as_posix(), file.read_bytes())
    partial = _sd_entry(("model_index.json", "*/*.json", "vae/*", "text_encoder/*"))  # no unet weights
    with pytest.raises(UserError, match="component 'unet' has no weights file.*quarantine"):
        downloads.download(downloads.spec_from_catalog(partial, partial.files[0]), JobState())
    assert registry.installed() == []
    whole = _sd_entry(("*.json", "*/*"))
    model = downloads.download(downloads.spec_from_catalog(whole, whole.files[0]), JobState())
    assert model.id == "diffusion/tiny-sd" and model.format == "diffusers"
    assert (model.path / "unet" / "diffusion_pytorch_model.safetensors").read_bytes() == \
        (folder / "unet" / "diffusion_pytorch_model.safetensors").read_bytes()


# ---- the CLI ---------------------------------------------------------------------------------------------------
def test_cli_download_says_it_is_retrying_and_only_a_final_failure_asks_the_user(server, subprocess_env):
    import subprocess
    import sys

    data = gguf_bytes(23)
    n = len(data)
    path = "/cli/heal.gguf"
    url = serve(server, path, data, {"cut": n // 2})

    def hearth(**env):
        return subprocess.run([sys.executable, "-m", "app", "models", "download", url], capture_output=True,
                              text=True, timeout=120, env=dict(subprocess_env, HEARTH_DOWNLOAD_STALL_S="5", **env))

    r = hearth(HEARTH_DOWNLOAD_BACKOFF_S="0.6")
    assert r.returncode == 0 and r.stdout.startswith("chat/heal.gguf\t"), r.stderr
    assert "heal.gguf: connection lost, retrying in 1 s (1/5)" in r.stderr
    registry.remove("chat/heal.gguf")
    server.misbehave(path, {"cut": n // 3})
    r = hearth(HEARTH_DOWNLOAD_RETRIES="0")
    assert r.returncode == 1 and "error: Downloading heal.gguf failed" in r.stderr and "Traceback" not in r.stderr
    assert r.stderr.rstrip().endswith("Run the same command again to resume.")
    r = hearth()
    assert r.returncode == 0 and "Resuming heal.gguf (failed earlier)" in r.stderr
    assert ranges(server, path)[-1] == f"bytes={n // 3}-"
