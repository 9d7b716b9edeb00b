"""CLIP search and labels with real transformers CLIP models (tiny, saved with save_pretrained)."""

import os
import shutil

import numpy as np
import pytest
from PIL import Image

from app.core.clip.index import EmbeddingStore, index_images, list_images
from app.core.clip.model import ClipEncoder, resolve_model
from app.core.clip.search import load_labels, parse_labels, rank, save_labels, search, zero_shot
from app.core.errors import UserError
from app.core.models import registry

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def colour(colour_clip_path):
    return ClipEncoder.load(colour_clip_path, "cpu")


@pytest.fixture(scope="module")
def tiny(tiny_clip_path):
    return ClipEncoder.load(tiny_clip_path, "cpu")


def test_rank_orders_by_cosine_with_stable_ties():
    vectors = np.array([[1, 0], [0, 1], [0.6, 0.8], [0, 1]], np.float32)
    assert rank(vectors, np.array([0, 1], np.float32)) == [(1, 1.0), (3, 1.0), (2, pytest.approx(0.8)), (0, 0.0)]
    assert [i for i, _ in rank(vectors, np.array([1, 0], np.float32), k=2)] == [0, 2]
    assert rank(np.zeros((0, 2), np.float32), np.array([1, 0], np.float32)) == []


def test_text_query_ranks_the_described_photo_first(colour, photos):
    for word, expected in (("red", "red.jpg"), ("green", "green.png"), ("a blue thing", "blue.jpg")):
        result = search(photos, colour, query=word, k=3)
        assert [h.file.name for h in result.hits][0] == expected, word
        assert result.hits[0].score > 0.3 > result.hits[1].score
    assert len(search(photos, colour, query="red", k=1).hits) == 1


def test_zero_shot_label_from_a_list(colour, photos):
    ranked = zero_shot(photos / "green.png", ["red", "green", "blue"], colour)
    assert ranked[0][0] == "green" and ranked[0][1] > 0.9
    assert sum(p for _, p in ranked) == pytest.approx(1.0)
    with pytest.raises(UserError, match="at least one label"):
        zero_shot(photos / "green.png", [" ", ""], colour)


def test_the_same_image_duplicated_ranks_first(tiny, photos):
    shutil.copy(photos / "blue.jpg", photos / "copy-of-blue.jpg")
    hits = search(photos, tiny, like=photos / "blue.jpg", k=4).hits
    assert {h.file.name for h in hits[:2]} == {"blue.jpg", "copy-of-blue.jpg"}
    assert hits[0].score == pytest.approx(1.0, abs=1e-5) and hits[1].score == pytest.approx(1.0, abs=1e-5)
    assert hits[2].score < 0.9999


def test_cache_hits_changes_and_unreadable_files(tiny, photos, hearth_home):
    (photos / "notes.txt").write_text("not listed: no image extension")
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    sub = photos / "trip"
    sub.mkdir()
    Image.new("RGB", (50, 50), (120, 120, 0)).save(sub / "olive.png")
    files = list_images(photos)
    assert [f.name for f in files] == ["blue.jpg", "broken.jpg", "green.png", "red.jpg", "olive.png"]

    store = EmbeddingStore()
    assert store.path.is_relative_to(hearth_home)
    first = index_images(files, tiny, store)
    assert first.embedded == 4 and first.hashed == 5 and len(first.files) == 4
    assert list(first.skipped) == [photos / "broken.jpg"] and "is not an image" in first.skipped[photos / "broken.jpg"]

    again = index_images(files, tiny, store)  # nothing read or embedded again; same vectors
    assert (again.embedded, again.hashed) == (0, 0) and np.array_equal(again.vectors, first.vectors)
    assert list(again.skipped) == [photos / "broken.jpg"]

    shutil.copy(photos / "red.jpg", photos / "red-copy.jpg")  # same content: hashed, not embedded
    Image.new("RGB", (64, 48), (10, 10, 10)).save(photos / "green.png")  # changed content: embedded again
    st = (photos / "green.png").stat()
    os.utime(photos / "green.png", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    third = index_images(list_images(photos), tiny, store)
    assert third.embedded == 1 and third.hashed == 2
    green = third.files.index(photos / "green.png")
    assert not np.allclose(third.vectors[green], first.vectors[first.files.index(photos / "green.png")])
    fresh = tiny.embed_images([Image.new("RGB", (32, 32), (10, 10, 10))])[0]
    assert np.allclose(third.vectors[green], fresh, atol=1e-5)
    store.close()


def test_another_model_has_its_own_cache(tiny, colour, photos):
    store = EmbeddingStore()
    assert index_images(list_images(photos), tiny, store).embedded == 3
    assert index_images(list_images(photos), colour, store).embedded == 3
    assert tiny.key != colour.key
    store.close()


def test_model_resolution(tiny_clip_path, tmp_path):
    with pytest.raises(UserError, match="No CLIP model is installed"):
        resolve_model(None)
    installed = registry.import_model(tiny_clip_path)
    assert installed.kind == "clip" and installed.format == "transformers"
    assert resolve_model(None) == installed.path == resolve_model("tiny-clip")
    not_clip = tmp_path / "bert"
    not_clip.mkdir()
    (not_clip / "config.json").write_text('{"model_type": "bert", "architectures": ["BertModel"]}')
    with pytest.raises(UserError, match="bert is a 'bert' model, not CLIP"):
        resolve_model(not_clip)
    with pytest.raises(UserError, match="No CLIP model 'nope'"):
        resolve_model("nope")


def test_label_list_is_the_users(hearth_home):
    labels = load_labels()
    assert "dog" in labels and (hearth_home / "clip" / "labels.txt").is_file()
    save_labels(["kettle", "teapot", "kettle", " "])
    assert load_labels() == ["kettle", "teapot"]
    assert parse_labels(" cat, dog,,cat ,boat") == ["cat", "dog", "boat"]
