"""Find images by describing them, and zero-shot labels, from CLIP embeddings.

- `rank`: cosine similarity of unit vectors, best first (ties keep file order).
- `search`: index a folder (cached), embed the text query — or an example image, for "more like this" — and rank.
- `zero_shot`: softmax over the labels of CLIP's scaled cosine between the image and "a photo of a {label}"
  (the prompt the CLIP paper uses for ImageNet zero-shot classification).
- The label list is the user's: `<data>/clip/labels.txt`, one per line, written with DEFAULT_LABELS on first use.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.core import paths
from app.core.errors import UserError
from app.core.jobs import JobState
from app.core.clip.index import EmbeddingStore, index_images, list_images
from app.core.vision.images import open_rgb

PROMPT = "a photo of a {}"
DEFAULT_LABELS = ("person", "dog", "cat", "bird", "horse", "car", "bicycle", "boat", "airplane", "tree", "flower",
                  "building", "food", "cup", "bottle", "chair", "table", "book", "phone", "computer")


@dataclass(frozen=True)
class Hit:
    file: Path
    score: float  # cosine similarity, -1 … 1

    def to_dict(self) -> dict:
        return {"file": str(self.file), "score": round(self.score, 6)}


@dataclass
class SearchResult:
    hits: list[Hit]
    indexed: int  # images with an embedding
    embedded: int  # embedded this time (not from the cache)
    skipped: dict[Path, str]  # files that could not be read, with the reason


def rank(vectors: np.ndarray, query: np.ndarray, k: int | None = None) -> list[tuple[int, float]]:
    """(row, cosine) of the k rows of `vectors` (n, d) most similar to `query` (d,), best first.

    Rows and query must be unit vectors (ClipEncoder's are). Equal scores keep row order."""
    if len(vectors) == 0:
        return []
    scores = vectors @ np.asarray(query, np.float32)
    order = np.argsort(-scores, kind="stable")
    if k is not None:
        order = order[:max(0, int(k))]
    return [(int(i), float(scores[i])) for i in order]


def check_query(query: str | None, like: str | Path | None) -> None:
    """UserError unless exactly one of a text query and an example image is given."""
    if bool(query and query.strip()) == bool(like):
        raise UserError("Give either a text query or an example image (--like), not both and not neither.")


def search(images: str | Path | list[Path], encoder, query: str | None = None, like: str | Path | None = None,
           k: int = 10, store: EmbeddingStore | None = None, state: JobState | None = None) -> SearchResult:
    """Rank `images` (a folder, or a list of files) by the text `query`, or by similarity to the image `like`.
    Best first, at most k hits."""
    check_query(query, like)
    state = state or JobState()
    files = images if isinstance(images, list) else list_images(images)
    index = index_images(files, encoder, store, state)
    if like:
        image, _ = open_rgb(like, getattr(encoder, "input_side", 224), shortest=True)
        q = encoder.embed_images([image])[0]
    else:
        q = encoder.embed_texts([query.strip()])[0]
    hits = [Hit(index.files[i], s) for i, s in rank(index.vectors, q, k)]
    return SearchResult(hits=hits, indexed=len(index.files), embedded=index.embedded, skipped=index.skipped)


def zero_shot(image: str | Path | bytes, labels: list[str], encoder, prompt: str = PROMPT) -> list[tuple[str, float]]:
    """(label, probability) for each label, most likely first; probabilities sum to 1."""
    labels = [lb.strip() for lb in labels if lb and lb.strip()]
    if not labels:
        raise UserError("Give at least one label, for example --labels \"cat,dog,boat\".")
    rgb, _ = open_rgb(image, getattr(encoder, "input_side", 224), shortest=True)
    img = encoder.embed_images([rgb])[0]
    txt = encoder.embed_texts([prompt.format(lb) for lb in labels])
    logits = encoder.logit_scale * (txt @ img)
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    order = np.argsort(-probs, kind="stable")
    return [(labels[i], float(probs[i])) for i in order]


def labels_file() -> Path:
    return paths.clip_dir() / "labels.txt"


def load_labels() -> list[str]:
    """The user's label list (DEFAULT_LABELS written there the first time)."""
    path = labels_file()
    if not path.exists():
        save_labels(list(DEFAULT_LABELS))
    lines = path.read_text(encoding="utf-8").splitlines()
    return list(dict.fromkeys(ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")))


def save_labels(labels: list[str]) -> None:
    text = "\n".join(dict.fromkeys(lb.strip() for lb in labels if lb.strip()))
    labels_file().write_text(text + "\n", encoding="utf-8")


def parse_labels(text: str) -> list[str]:
    """'cat, dog,boat' → ['cat', 'dog', 'boat'] (duplicates and blanks dropped)."""
    return list(dict.fromkeys(p.strip() for p in text.split(",") if p.strip()))
