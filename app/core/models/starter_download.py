"""One download for a whole starter set: one progress bar over every file, each model installed as it lands.

Each model goes through the one download machinery (downloads.download: resumable `.part` files, SHA-256 and size
checked, quarantine on a mismatch), one after another in the set's order — chat first, so the Chat tab is usable
soonest. Progress is measured on disk — the bytes in the staging folder —
so it is the same whatever the download module reports, and the speed is measured from the first byte this run
fetches (bytes resumed from an earlier run do not count as speed). The speed is remembered for the next estimate.

Cancelling pauses: the file being fetched keeps its part, finished models stay installed, and running the set again
continues where it stopped. Partials: StarterProgress (about 10 a second) and ModelLanded (a model is installed:
its tab can use it now).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

from app.core import paths
from app.core.jobs import JobState
from app.core.models import downloads, registry
from app.core.models.starter import Pick, StarterSet, about, remember_speed
from app.core.units import format_bytes

WINDOW_S = 5.0  # the speed shown is measured over the last few seconds
MIN_SPAN_S = 1.0  # … once at least this long a stretch of bytes has arrived


@dataclass(frozen=True)
class StarterProgress:
    """Partial: the whole set's progress. Bytes; speed_bps None until measured; `current` is the model being
    fetched (`index` of `count`, 1-based); `detail` what its own download says (verifying, retrying …)."""

    done_bytes: int
    total_bytes: int
    speed_bps: float | None
    current: str
    index: int
    count: int
    detail: str = ""

    @property
    def fraction(self) -> float:
        """done / total, in [0, 1]."""
        return min(1.0, self.done_bytes / self.total_bytes) if self.total_bytes else 1.0

    @property
    def text(self) -> str:
        """'Qwen2.5 7B Instruct Q6_K (1 of 3) · 1.20 GB of 9.80 GB · 12.3 MB/s · about 12 min left'."""
        parts = [f"{self.current} ({self.index} of {self.count})",
                 f"{format_bytes(self.done_bytes)} of {format_bytes(self.total_bytes)}"]
        if self.speed_bps:
            left = max(0, self.total_bytes - self.done_bytes) / self.speed_bps
            parts += [f"{format_bytes(self.speed_bps)}/s", f"{about(left)} left"]
        else:
            parts.append("measuring the speed…")
        return " · ".join(parts)


@dataclass(frozen=True)
class ModelLanded:
    """Partial: the model for `role` (chat, images, segment) is installed; its tab can use it now."""

    role: str
    model: registry.InstalledModel


def staged_bytes(spec_id: str) -> int:
    """Bytes of a download's `.part` files in its staging folder (0 when there is none)."""
    stage = downloads.staging_root() / spec_id
    return sum(p.stat().st_size for p in stage.rglob("*.part")) if stage.exists() else 0


class _Tracker:
    """Bytes done over the set, and the speed of the bytes fetched in this run."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.finished = 0  # catalog bytes of the picks done
        self.fetched = 0  # bytes fetched in this run by the picks done
        self.samples: deque[tuple[float, int]] = deque()
        self.first_byte_at: float | None = None
        self.pick: Pick | None = None
        self.spec_id = ""
        self.base = self.now = 0

    def start(self, pick: Pick, spec_id: str) -> None:
        self.pick, self.spec_id = pick, spec_id
        self.base = self.now = staged_bytes(spec_id)

    def update(self) -> None:
        self.now = staged_bytes(self.spec_id)
        fetched = self.fetched + max(0, self.now - self.base)
        at = time.monotonic()
        if fetched and self.first_byte_at is None:
            self.first_byte_at = at
            self.samples.append((at, 0))
        self.samples.append((at, fetched))
        while len(self.samples) > 2 and at - self.samples[0][0] > WINDOW_S:
            self.samples.popleft()

    def finish(self, size: int) -> None:
        self.fetched += max(0, size - self.base)
        self.finished += self.pick.size_bytes
        self.base = self.now = 0

    @property
    def done(self) -> int:
        current = min(self.now, self.pick.size_bytes) if self.pick is not None else 0
        return min(self.total, self.finished + current)

    @property
    def speed(self) -> float | None:
        if len(self.samples) < 2:
            return None
        (t0, b0), (t1, b1) = self.samples[0], self.samples[-1]
        return (b1 - b0) / (t1 - t0) if t1 - t0 >= MIN_SPAN_S and b1 > b0 else None

    @property
    def average(self) -> float | None:
        """Bytes/s over the whole run, from its first byte (None when too little came to tell)."""
        if self.first_byte_at is None or not self.samples:
            return None
        span = self.samples[-1][0] - self.first_byte_at
        return self.samples[-1][1] / span if span >= MIN_SPAN_S else None


class _ItemState(JobState):
    """What one model's download is given: it stops when the set is cancelled; its progress feeds the set's."""

    def __init__(self, outer: JobState, on_progress) -> None:
        super().__init__(on_progress=on_progress)
        self._outer = outer

    @property
    def cancelled(self) -> bool:
        return self._outer.cancelled

    def check(self) -> None:
        self._outer.check()


def download_set(starter: StarterSet, state: JobState) -> list[registry.InstalledModel]:
    """Job: download every pick of `starter` that is not installed yet, one after another, as one progress.
    Returns the models installed (in order). Cancel → paused (resumable by running it again). Raises what
    downloads.download raises (UserError: no network — message starting "No network" —, no disk space, a checksum
    mismatch); the models installed before it stay installed."""
    todo = starter.to_download
    landed: list[registry.InstalledModel] = []
    if not todo:
        state.progress(1.0, "Nothing to download: the starter set is installed")
        return landed
    tracker = _Tracker(sum(p.size_bytes for p in todo))
    last = 0.0

    def report(index: int, detail: str = "", force: bool = False) -> None:
        nonlocal last
        at = time.monotonic()
        if not force and at - last < 0.1:
            return
        last = at
        tracker.update()
        progress = StarterProgress(tracker.done, tracker.total, tracker.speed, tracker.pick.name, index, len(todo),
                                   detail)
        state.progress(progress.fraction, progress.text)
        state.partial(progress)

    try:
        for index, pick in enumerate(todo, start=1):
            state.check()
            spec = downloads.spec_from_catalog(pick.entry, pick.variant)
            final = paths.models_dir() / spec.kind / spec.name
            tracker.start(pick, spec.id)
            report(index, force=True)
            if final.exists():  # installed meanwhile (from the Models tab, another Hearth)
                model = next(m for m in registry.installed(spec.kind) if m.path == final)
            else:
                model = downloads.download(spec, _ItemState(state, lambda _f, text, i=index: report(i, text)))
            tracker.finish(model.size_bytes)
            landed.append(model)
            state.partial(ModelLanded(pick.role, model))
        report(len(todo), force=True)
        state.progress(1.0, f"Installed {len(todo)} model{'s' if len(todo) != 1 else ''}")
        return landed
    finally:
        if tracker.average:
            remember_speed(tracker.average)
