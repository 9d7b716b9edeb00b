"""Get started: the starter set chosen for simulated computers, and its one combined download against the local
range server (tests/fixtures/http_server.py)."""

import pytest

from app.core import paths
from app.core.errors import JobCancelled, UserError
from app.core.jobs import JobState
from app.core.models import catalog, downloads, fit, jobs, registry, starter
from app.core.models.starter_download import ModelLanded, StarterProgress, download_set
from app.core.units import format_bytes
from tests.core.models.starter_files import CHAT, IMAGE, local_catalog

GiB = 2**30
DISK = 500 * 10**9
CPU_8GB = starter.Machine(fit.Memory(8 * GiB), DISK)
APPLE_16GB = starter.Machine(fit.Memory(16 * GiB, 0, unified=True), DISK)
NVIDIA_24GB = starter.Machine(fit.Memory(32 * GiB, 24 * GiB), DISK)


def by_role(chosen):
    return {p.role: p for p in chosen.picks}


def catalog_size(ref):
    entry, variant = catalog.find(ref)
    return variant.size_bytes


@pytest.mark.parametrize("machine, chat, image", [
    (CPU_8GB, "llama-3.2-3b-instruct:Q5_K_M", "sd-turbo"),
    (APPLE_16GB, "qwen2.5-7b-instruct:Q8_0", "sd-turbo"),
    (NVIDIA_24GB, "qwen2.5-7b-instruct:Q8_0", "sdxl-turbo"),
], ids=["8GB-cpu", "16GB-apple", "24GB-nvidia"])
def test_three_machines_get_a_set_that_fits_with_the_sizes_summed_right(machine, chat, image):
    chosen = starter.choose(machine)
    picks = by_role(chosen)
    assert list(picks) == ["chat", "documents", "images", "segment"] and chosen.notes == ()
    assert picks["chat"].ref == chat and picks["images"].ref == image
    assert picks["documents"].entry is None and picks["documents"].download_bytes == 0  # the built-in embedder
    # segmentation: the smallest verified catalog entry (whatever entries the catalog gains later)
    sams = [e for e in catalog.entries("sam") if e.verified]
    assert picks["segment"].size_bytes == min(e.default_variant.size_bytes for e in sams)
    for pick in (picks["chat"], picks["images"], picks["segment"]):
        assert fit.label(pick.memory_bytes, machine.memory) == fit.FITS and not pick.installed
    expected = sum(catalog_size(ref) for ref in (chat, image, picks["segment"].ref))
    assert chosen.total_bytes == expected == sum(p["download_bytes"] for p in chosen.to_json()["picks"])
    if machine.gpu:  # on a GPU the chat model is the Models tab's ★
        entry, _ = catalog.find(chat)
        assert fit.recommend(entry, machine.memory).quantization == picks["chat"].variant.quantization
    else:  # on a CPU it stays small enough to be quick
        assert picks["chat"].size_bytes <= starter.CPU_CHAT_MAX_BYTES


def test_short_disk_drops_the_image_model_first_and_says_so():
    machine = starter.Machine(fit.Memory(8 * GiB), 3 * 10**9)
    chosen = starter.choose(machine)
    assert [p.role for p in chosen.picks] == ["chat", "documents", "segment"]
    assert chosen.notes and "Not enough free disk for SD-Turbo" in chosen.notes[0]
    tiny = starter.choose(starter.Machine(fit.Memory(2 * GiB), DISK))
    assert by_role(tiny)["chat"].ref.startswith("qwen2.5-0.5b-instruct")
    assert any(n.startswith("No image model") for n in tiny.notes)


def test_an_installed_pick_downloads_nothing_and_unticked_ones_leave_the_set():
    first = starter.choose(CPU_8GB)
    chat = by_role(first)["chat"]
    (registry.kind_dir("chat") / chat.variant.file).write_bytes(b"GGUF")
    again = starter.choose(CPU_8GB)
    assert by_role(again)["chat"].installed and again.total_bytes == first.total_bytes - chat.size_bytes
    assert again.without(["images"]).total_bytes == again.total_bytes - by_role(again)["images"].size_bytes


def test_the_time_is_said_at_a_measured_speed_or_said_unknown():
    chosen = starter.choose(CPU_8GB)
    assert "time unknown until the download starts" in chosen.estimate(None)
    minutes = round(chosen.total_bytes / 8.1e6 / 60)
    assert chosen.estimate(8.1e6) == f"{format_bytes(chosen.total_bytes)} — about {minutes} min at 8.10 MB/s"
    assert starter.about(30) == "under a minute" and starter.about(5000) == "about 1 h 20 min"
    assert starter.remembered_speed() is None
    starter.remember_speed(2.5e6)
    assert starter.remembered_speed() == 2.5e6


# ---- the combined download --------------------------------------------------------------------------------------
@pytest.fixture
def local(server, tmp_path):
    return local_catalog(server, tmp_path)


def run_set(entries, state=None):
    partials = []
    chosen = starter.choose(starter.Machine(fit.Memory(16 * GiB), DISK), entries)
    state = state or JobState()
    state._on_partial = partials.append
    try:
        return download_set(chosen, state), partials, chosen
    except (UserError, JobCancelled) as exc:
        return exc, partials, chosen


def test_one_download_for_the_set_and_a_file_cut_mid_way_resumes(server, local):
    entries, files = local
    image = IMAGE
    server.cut[image] = len(files[image]) // 2
    server.throttle[CHAT] = 400_000  # bytes/s: a speed to measure (about 1.7 s)
    first, partials, chosen = run_set(entries)
    assert chosen.total_bytes == sum(len(d) for d in files.values())
    landed = [p for p in partials if isinstance(p, ModelLanded)]
    assert landed[0].role == "chat" and landed[0].model.path.read_bytes() == files[CHAT]
    progress = [p for p in partials if isinstance(p, StarterProgress)]
    assert all(p.total_bytes == chosen.total_bytes for p in progress)
    assert [p.done_bytes for p in progress] == sorted(p.done_bytes for p in progress)  # one bar, never back
    measured = [p for p in progress if p.speed_bps]
    assert measured and measured[-1].text.endswith(" left") and 100_000 < measured[-1].speed_bps < 2_000_000
    assert starter.remembered_speed() is not None  # the next estimate uses it
    if isinstance(first, UserError):  # the cut stopped the set: running it again resumes
        assert "resume" in str(first) or "closed early" in str(first)
        second, partials, chosen = run_set(entries)
        assert [p.role for p in chosen.to_download] == ["images", "segment"]  # chat is installed already
        assert not isinstance(second, Exception), second
    gets = [r for r in server.requests(image) if r.method == "GET"]
    assert gets[-1].range == f"bytes={len(files[image]) // 2}-"  # from the byte reached, not from zero
    for path, data in files.items():
        (model,) = [m for m in registry.installed() if m.path.name == path.rsplit("/", 1)[1]]
        assert model.path.read_bytes() == data
    assert [p.role for p in partials if isinstance(p, ModelLanded)][-1] == "segment"
    assert partials[-1].done_bytes == partials[-1].total_bytes and downloads.pending() == []
    assert starter.choose(starter.Machine(fit.Memory(16 * GiB), DISK), entries).total_bytes == 0


class PauseAfter(JobState):
    """Cancels (= Pause) once `n` bytes of a .part file are on disk."""

    def __init__(self, n):
        super().__init__()
        self.n = n

    @property
    def cancelled(self):
        parts = list((paths.models_dir() / ".downloads").rglob("*.part"))
        return any(p.stat().st_size >= self.n for p in parts)


def test_pause_keeps_what_came_and_resume_finishes_the_set(server, local):
    entries, files = local
    server.throttle[CHAT] = 500_000
    paused, _, _ = run_set(entries, PauseAfter(200_000))
    assert isinstance(paused, JobCancelled) and registry.installed() == []
    (pending,) = downloads.pending()
    assert pending.status == downloads.PAUSED and pending.done_bytes >= 200_000
    models, partials, _ = run_set(entries)
    assert [m.path.name for m in models] == ["starter-chat.gguf", "starter-image.safetensors", "starter-sam.pth"]
    gets = [r for r in server.requests(CHAT) if r.method == "GET"]
    assert gets[-1].range == f"bytes={pending.done_bytes}-"
    first = next(p for p in partials if isinstance(p, StarterProgress))
    assert first.done_bytes == pending.done_bytes  # the bar starts where the pause left it


def test_offline_the_plan_says_so():
    plan = jobs.plan_starter(None, JobState())  # the tests run with HF_HUB_OFFLINE=1
    assert plan.offline == "offline mode is on: HF_HUB_OFFLINE=1"
    assert plan.starter.picks[0].role == "chat"
