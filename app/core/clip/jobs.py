"""CLIP job functions (`fn(inputs, state)`, app/core/jobs.py): what the GUI runs in the background and the CLI in
the foreground. Jobs that use the loaded CLIP name RESOURCE, so they run one after another."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.core.clip.index import IndexResult, index_images, list_images
from app.core.clip.model import resolve_model, shared_encoder
from app.core.clip.search import SearchResult, check_query, load_labels, search, zero_shot
from app.core.jobs import JobState

RESOURCE = "clip-model"


@dataclass
class SearchInputs:
    folder: Path
    query: str | None = None
    like: Path | None = None  # an example image instead of a text query
    k: int = 10
    model: str | Path | None = None  # folder, installed name, or None for the first installed CLIP
    device: str = "auto"
    files: list[Path] | None = None  # these images instead of the folder's (a gallery, a photo strip)

    def images(self) -> list[Path]:
        """The images to index: `files` when given, else the folder's (UserError for a wrong folder)."""
        return list(self.files) if self.files is not None else list_images(self.folder)


@dataclass
class LabelInputs:
    image: Path | bytes
    labels: list[str] | None = None  # None: the user's list (labels.txt)
    model: str | Path | None = None
    device: str = "auto"


def _encoder(model, device, state: JobState):
    path = resolve_model(model)
    state.progress(None, f"Loading {path.name}")
    return shared_encoder(path, device)


def index_folder_job(inputs: SearchInputs, state: JobState) -> IndexResult:
    """Embed (or fetch from the cache) every image of inputs.folder (or inputs.files)."""
    files = inputs.images()
    encoder = _encoder(inputs.model, inputs.device, state)
    return index_images(files, encoder, None, state)


def search_job(inputs: SearchInputs, state: JobState) -> SearchResult:
    check_query(inputs.query, inputs.like)
    files = inputs.images()  # a wrong folder is reported before the model loads
    encoder = _encoder(inputs.model, inputs.device, state)
    return search(files, encoder, query=inputs.query, like=inputs.like, k=inputs.k, state=state)


def label_job(inputs: LabelInputs, state: JobState) -> list[tuple[str, float]]:
    encoder = _encoder(inputs.model, inputs.device, state)
    state.progress(None, "Labelling")
    return zero_shot(inputs.image, inputs.labels or load_labels(), encoder)
