"""Get started: one starter set of models that fits this computer, chosen from the catalog.

    machine = Machine.detect()                 # RAM, VRAM (CUDA) or unified memory, free disk in the models folder
    starter = choose(machine)                  # a StarterSet: one Pick per tab, the total download, what was left out
    starter.estimate(remembered_speed())       # "about 12 min at 8.1 MB/s" (or "speed unknown …")

What is chosen, tab by tab (memory labels are fit.py's: "fits" = ≤ 60 % of RAM, or ≤ 90 % of a CUDA GPU's VRAM):

- Chat: the catalog's chat entries marked `"starter": {"rank": n}`, best rank first; the first one with a
  quantization that fits gets its best-quality fitting quantization — the ★ of the Models tab. Without a GPU
  (neither CUDA nor Apple's unified memory) only files up to CPU_CHAT_MAX_BYTES count: generation on a CPU is
  limited by memory bandwidth (typically 20–40 GB/s, read once per token), so a 2.5 GB model writes about 8–15
  tokens a second — reading speed — where a 5 GB one would crawl.
- Documents: the built-in embedder (all-MiniLM-L6-v2, shipped with Hearth): nothing to download.
- Images: diffusion entries marked `"starter"` (rank, optional `min_vram_gb`: SDXL-Turbo asks for a CUDA GPU with
  8 GB), the first whose memory fits; none when nothing fits.
- Segment: entries marked `"starter"` by rank if any, else the smallest *verified* segmentation entry that fits —
  so a faster model added to the catalog is picked up without code changes.

When the free disk (less a 200 MB margin) cannot hold it all, the image model goes first, then the segmentation
model, each with a note saying so. A pick already installed costs nothing and is marked so. Pure functions over a
Machine and the catalog entries, so tests simulate any computer.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field, replace

from app.core import paths
from app.core.models import catalog, fit
from app.core.units import format_bytes

CPU_CHAT_MAX_BYTES = 2_500_000_000
DISK_MARGIN = 200 * 10**6
ROLES = ("chat", "documents", "images", "segment")  # one pick per tab, in this order
TAB_TITLES = {"chat": "Chat", "documents": "Documents", "images": "Images", "segment": "Segment"}
BUILTIN_EMBEDDER = "all-MiniLM-L6-v2"
_DROP_ORDER = ("images", "segment", "chat")  # what goes first when the disk is short


@dataclass(frozen=True)
class Machine:
    """What the starter set is chosen for: memory (fit.Memory) and free disk in the models folder (bytes)."""

    memory: fit.Memory
    free_disk_bytes: int

    @classmethod
    def detect(cls) -> "Machine":
        """This computer (devices.detect: reads /proc, sysctl or nvidia-smi; call it off the GUI thread)."""
        from app.core import devices

        return cls(fit.Memory.from_device(devices.detect()), shutil.disk_usage(paths.models_dir()).free)

    @property
    def gpu(self) -> bool:
        """A CUDA GPU or Apple unified memory: chat runs on the GPU."""
        return bool(self.memory.vram_bytes) or self.memory.unified

    @property
    def describe(self) -> str:
        """'16.0 GB unified memory, 120 GB free disk'."""
        return f"{self.memory.describe}, {format_bytes(self.free_disk_bytes)} free disk"


@dataclass(frozen=True)
class Pick:
    """The model proposed for one tab (`role`: chat, documents, images, segment). `entry`/`variant` are None for
    the built-in embedder. `size_bytes` is the catalog's download size; `installed` ones download nothing."""

    role: str
    name: str
    reason: str
    entry: catalog.CatalogEntry | None = field(default=None, compare=False, repr=False)
    variant: catalog.CatalogFile | None = field(default=None, compare=False, repr=False)
    size_bytes: int = 0
    memory_bytes: int = 0
    installed: bool = False

    @property
    def download_bytes(self) -> int:
        """Bytes still to download for this pick (0 when built in or installed)."""
        return 0 if self.installed or self.entry is None else self.size_bytes

    @property
    def ref(self) -> str | None:
        """The catalog reference `hearth models download` takes ('qwen2.5-7b-instruct:Q6_K'), None if built in."""
        if self.entry is None:
            return None
        return f"{self.entry.id}:{self.variant.quantization}" if self.entry.kind == "chat" else self.entry.id

    def to_json(self) -> dict:
        """JSON-ready: role, tab, name, ref, size_bytes, memory_bytes, download_bytes, installed, reason."""
        return {"role": self.role, "tab": TAB_TITLES[self.role], "name": self.name, "ref": self.ref,
                "size_bytes": self.size_bytes, "memory_bytes": self.memory_bytes,
                "download_bytes": self.download_bytes, "installed": self.installed, "reason": self.reason}


@dataclass(frozen=True)
class StarterSet:
    """One Pick per tab that has one, in ROLES order, and one sentence per tab left without (`notes`)."""

    machine: Machine
    picks: tuple[Pick, ...]
    notes: tuple[str, ...] = ()

    @property
    def total_bytes(self) -> int:
        """What is left to download, summed over the picks."""
        return sum(p.download_bytes for p in self.picks)

    @property
    def to_download(self) -> list[Pick]:
        """The picks that still need downloading, in order."""
        return [p for p in self.picks if p.download_bytes]

    def without(self, roles) -> "StarterSet":
        """The set less the picks of `roles` (the user unticked them)."""
        leave = set(roles)
        return replace(self, picks=tuple(p for p in self.picks if p.role not in leave))

    def estimate(self, speed_bps: float | None) -> str:
        """'9.79 GB — about 20 min at 8.1 MB/s', or with no measured speed '9.79 GB — time unknown until the
        download starts'; 'Nothing to download' when all is there."""
        return describe_download(self.total_bytes, speed_bps)

    def to_json(self) -> dict:
        """JSON-ready: the machine, the picks, the notes, total_bytes."""
        mem = self.machine.memory
        return {"machine": {"ram_bytes": mem.ram_bytes, "vram_bytes": mem.vram_bytes, "unified": mem.unified,
                            "free_disk_bytes": self.machine.free_disk_bytes, "describe": self.machine.describe},
                "picks": [p.to_json() for p in self.picks], "notes": list(self.notes),
                "total_bytes": self.total_bytes}


def about(seconds: float) -> str:
    """A download time said roughly, as people say it: 'under a minute', 'about 7 min', 'about 1 h 20 min'."""
    minutes = max(1, round(seconds / 60))
    if seconds < 45:
        return "under a minute"
    if minutes < 60:
        return f"about {minutes} min"
    hours, rest = divmod(minutes, 60)
    rest = round(rest / 10) * 10
    if rest == 60:
        hours, rest = hours + 1, 0
    return f"about {hours} h" + (f" {rest} min" if rest else "")


def describe_download(total_bytes: int, speed_bps: float | None) -> str:
    """'9.79 GB — about 20 min at 8.1 MB/s' at a measured speed, else '… time unknown until the download
    starts'."""
    if total_bytes <= 0:
        return "Nothing to download"
    size = format_bytes(total_bytes)
    if not speed_bps or speed_bps <= 0:
        return f"{size} — time unknown until the download starts and its speed is measured"
    return f"{size} — {about(total_bytes / speed_bps)} at {format_bytes(speed_bps)}/s"


# ---- the choice -------------------------------------------------------------------------------------------------
def _rank(entry: catalog.CatalogEntry) -> int | None:
    starter = entry.extra.get("starter")
    return int(starter.get("rank", 99)) if isinstance(starter, dict) else None


def _ranked(entries, kind: str) -> list[catalog.CatalogEntry]:
    marked = [e for e in entries if e.kind == kind and _rank(e) is not None]
    return sorted(marked, key=_rank)


def _installed(entry, variant) -> bool:
    from app.core.models import downloads

    spec = downloads.spec_from_catalog(entry, variant)
    return (paths.models_dir() / spec.kind / spec.name).exists()


def _pick(role: str, entry, variant, reason: str) -> Pick:
    name = f"{entry.name} {variant.quantization}" if entry.kind == "chat" else entry.name
    return Pick(role, name, reason, entry, variant, variant.size_bytes, entry.memory_bytes(variant),
                _installed(entry, variant))


def _chat(machine: Machine, entries) -> Pick | str:
    mem = machine.memory
    limit = None if machine.gpu else CPU_CHAT_MAX_BYTES
    for entry in _ranked(entries, "chat"):
        best = fit.recommend(entry, mem, max_size=limit)
        if best is not None and fit.label(entry.memory_bytes(best), mem) == fit.FITS:
            why = f"The best that fits: needs about {format_bytes(entry.memory_bytes(best))} of {mem.describe}"
            speed = "; runs on the GPU" if machine.gpu else (
                f"; files up to {format_bytes(limit)} stay quick without a GPU")
            return _pick("chat", entry, best, why + speed)
    return f"No chat model: none of the starter chat models fits {mem.describe}."


def _images(machine: Machine, entries) -> Pick | str:
    mem = machine.memory
    smallest = None
    for entry in _ranked(entries, "diffusion"):
        variant = entry.default_variant
        min_vram = float(entry.extra["starter"].get("min_vram_gb") or 0)
        if min_vram and mem.vram_bytes < min_vram * 10**9:
            continue
        need = entry.memory_bytes(variant)
        smallest = need if smallest is None else min(smallest, need)
        if fit.label(need, mem) == fit.FITS:
            gpu = f" and a GPU with {min_vram:g} GB or more" if min_vram else ""
            return _pick("images", entry, variant,
                         f"An image in 1–4 steps; needs about {format_bytes(need)} of memory{gpu}")
    need = f" (the smallest needs about {format_bytes(smallest)})" if smallest else ""
    return f"No image model: none fits {mem.describe}{need}. Add one later from the Models tab."


def _segment(machine: Machine, entries) -> Pick | str:
    mem = machine.memory
    marked = _ranked(entries, "sam")
    candidates = marked or sorted((e for e in entries if e.kind == "sam" and e.verified),
                                  key=lambda e: e.default_variant.size_bytes)
    for entry in candidates:
        variant = entry.default_variant
        if fit.label(entry.memory_bytes(variant), mem) == fit.FITS:
            why = "The catalog's starter" if marked else "The smallest verified segmentation model in the catalog"
            return _pick("segment", entry, variant,
                         f"{why}; needs about {format_bytes(entry.memory_bytes(variant))} of memory")
    return f"No segmentation model: none fits {mem.describe}."


def _embedder() -> Pick:
    return Pick("documents", BUILTIN_EMBEDDER,
                "Built into Hearth: Documents can index and search your files at once", installed=True)


def choose(machine: Machine, entries: list[catalog.CatalogEntry] | None = None) -> StarterSet:
    """The starter set for `machine` from `entries` (default: the catalog); see the module docstring."""
    entries = catalog.load() if entries is None else list(entries)
    picks: list[Pick] = []
    notes: list[str] = []
    for chosen in (_chat(machine, entries), _embedder(), _images(machine, entries), _segment(machine, entries)):
        (picks if isinstance(chosen, Pick) else notes).append(chosen)
    room = machine.free_disk_bytes - DISK_MARGIN
    for role in _DROP_ORDER:
        total = sum(p.download_bytes for p in picks)
        if total <= room:
            break
        pick = next((p for p in picks if p.role == role and p.download_bytes), None)
        if pick is not None:
            picks.remove(pick)
            notes.append(f"Not enough free disk for {pick.name} ({format_bytes(pick.size_bytes)}): "
                         f"{format_bytes(machine.free_disk_bytes)} is free. Free some space to add it later.")
    return StarterSet(machine, tuple(sorted(picks, key=lambda p: ROLES.index(p.role))), tuple(notes))


# ---- the speed of the last download --------------------------------------------------------------------------
def _speed_file():
    return paths.cache_dir() / "download-speed.json"


def remembered_speed() -> float | None:
    """Bytes/s measured by the last starter download (None before any)."""
    try:
        value = float(json.loads(_speed_file().read_text(encoding="utf-8"))["bytes_per_s"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return value if value > 0 else None


def remember_speed(bytes_per_s: float) -> None:
    """Keep a measured download speed for the next estimate."""
    if bytes_per_s > 0:
        _speed_file().write_text(json.dumps({"bytes_per_s": bytes_per_s, "measured": time.time()}),
                                 encoding="utf-8")
